"""The background sender: one thread per collector connection delivers every job's events.

A job thread only appends to a queue (and only for start and finish events; progress is
pulled from the jobs by this thread, at most once per interval), so monitoring never waits
on the network. Each round the thread takes the queued events, the progress and heartbeats
that are due, and what its sources have kept (`add_source`: the Celery monitor), and pushes
them as one batch:

- delivered: done. The collector answered 200 once the events were durable.
- no answer, 408, 429 or 5xx: the collector is "down". The batch goes to the spool file and
  the thread retries with exponential backoff and jitter (or the server's Retry-After);
  meanwhile new events are spooled as they come, oldest delivered first once it is back.
- 400: the events the collector named as invalid are dropped and the rest sent again.
- 413: the batch is split in halves.
- another 4xx (a bad token, a wrong URL): dropped; retrying the same push cannot succeed.

Every problem is logged once per outage (logger `batchgate.client`), never raised.

At interpreter exit, pending events are delivered within `flush_timeout`; whatever is left
(the collector down or too slow) is written to the spool for the next process to deliver.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from batchgate.client.config import Connection
from batchgate.client.spool import Spool, SpoolFile
from batchgate.client.transport import (
    Outcome,
    Transport,
    Verdict,
    push_to_leader,
    urllib_transport,
)


class Reporter(Protocol):
    """What the sender asks, on each round, of a job registered with it: the heartbeat or
    progress event now due (if any), and when the next one is due."""

    def _periodic_event(self, now: float, down: bool, force: bool) -> dict[str, Any] | None: ...

    def _next_due(self, now: float, down: bool) -> float: ...


logger = logging.getLogger("batchgate.client")

MAX_QUEUED_EVENTS = 100_000
IDLE_EXIT_SECONDS = 2.0
"""A sender with no job, no queue and no backlog stops its thread after this long."""
ORPHAN_SCAN_SECONDS = 300.0


class Sender:
    """Delivers events to one collector. Obtain it with `sender_for(connection)`."""

    def __init__(self, connection: Connection, transport: Transport | None = None) -> None:
        self.connection = connection
        self._transport = transport or urllib_transport
        self._url = connection.push_url
        self._urls = connection.push_urls
        self._current = 0
        """Which of `_urls` took the last push (the leader, with several nodes)."""
        self._cond = threading.Condition(threading.Lock())
        self._spool_lock = threading.Lock()
        # Guarded by _cond:
        self._queue: deque[dict[str, Any]] = deque()
        self._jobs: list[Reporter] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._deadline: float | None = None
        self._abandoned = False
        self._rounds_started = 0
        self._rounds_done = 0
        self._force_progress = False
        self._inflight: list[dict[str, Any]] = []
        self._sources: list[Callable[[], list[dict[str, Any]]]] = []
        self._due_at: float | None = None
        """When a source asked for a round (`due_in`, monotonic), until that round starts."""
        self._waiting_until: float | None = None
        """While the thread waits for a round: when its wait ends (monotonic)."""
        # Owned by the sending thread (or the closing thread once it has stopped):
        self._spool = Spool(connection.spool_dir, self._url, connection.spool_max_bytes)
        self._down = False
        self._failures = 0
        self._retry_at = 0.0
        self._down_reason = ""
        self._next_orphan_scan = 0.0
        self._logged: set[str] = set()
        self.delivered = 0
        """Events the collector has acknowledged (statistics, for tests and the curious)."""
        self._command_handlers: list[Callable[[list[dict[str, Any]]], None]] = []

    # -- called from job threads -------------------------------------------------------------

    def register(self, job: Reporter) -> None:
        with self._cond:
            self._jobs.append(job)
            self._ensure_thread()

    def unregister(self, job: Reporter) -> None:
        with self._cond, contextlib.suppress(ValueError):
            self._jobs.remove(job)

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue an event for the next round and wake the thread. Never blocks on I/O."""
        with self._cond:
            if self._abandoned:
                self._spool_late([event])
                return
            if len(self._queue) >= MAX_QUEUED_EVENTS:
                self._log_once("queue-full", logging.WARNING, "the event queue is full; dropping")
                return
            self._queue.append(event)
            self._ensure_thread()
            self._cond.notify_all()

    def on_commands(self, handler: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call `handler` (on the sending thread: it must return quickly) with the commands
        an answer carries for the workers of a queue (see `POST /queues/{queue}/pause`)."""
        with self._cond:
            if handler not in self._command_handlers:
                self._command_handlers.append(handler)

    def add_source(self, take: Callable[[], list[dict[str, Any]]]) -> None:
        """Call `take` (on the sending thread, with no lock of the sender held) at the start
        of every round, for the events it has kept: an integration that keeps its events
        until a round (the Celery monitor) calls `due_in` when it keeps the first."""
        with self._cond:
            if take not in self._sources:
                self._sources.append(take)

    def due_in(self, seconds: float) -> None:
        """Have a round start within `seconds` (a source has kept events). The thread is woken
        only if it would otherwise sleep past then; one started for it waits until then."""
        with self._cond:
            due = time.monotonic() + seconds
            if self._due_at is None or due < self._due_at:
                self._due_at = due
            if self._thread is None:
                self._ensure_thread()
            elif self._waiting_until is not None and self._waiting_until > self._due_at:
                self._cond.notify_all()

    def enqueue_many(self, events: list[dict[str, Any]]) -> None:
        """Queue several events for one round (one wake of the thread). Never blocks on I/O."""
        with self._cond:
            if self._abandoned:
                self._spool_late(events)
                return
            room = MAX_QUEUED_EVENTS - len(self._queue)
            if len(events) > room:
                self._log_once("queue-full", logging.WARNING, "the event queue is full; dropping")
                events = events[: max(0, room)]
            self._queue.extend(events)
            self._ensure_thread()
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far (and any unsent progress) is delivered or spooled."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._thread is None:
                return not self._queue
            target = self._rounds_started + 1
            self._force_progress = True
            self._cond.notify_all()
            while self._rounds_done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    return self._rounds_done >= target
                self._cond.wait(remaining)
        return True

    # -- exit ------------------------------------------------------------------------------

    def begin_close(self, deadline: float) -> None:
        with self._cond:
            self._closing = True
            self._deadline = deadline
            self._force_progress = True
            self._cond.notify_all()

    def finish_close(self, deadline: float) -> None:
        """Wait for the thread until `deadline`, then spool whatever it could not deliver."""
        with self._cond:
            thread = self._thread
            if thread is None:
                # No thread (idle, or the interpreter refuses new ones at exit): deliver here.
                self._thread = threading.current_thread()
        if thread is None:
            self._run()
        elif thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            if self._thread is None:
                return
            self._abandoned = True
            leftover = self._inflight + list(self._queue)
            self._queue.clear()
        if not self._spool_lock.acquire(timeout=max(0.05, deadline - time.monotonic())):
            if leftover:
                logger.warning(
                    "batchgate: %d event(s) not delivered to %s before exit, and the spool "
                    "was busy: lost",
                    len(leftover),
                    self._url,
                )
            return
        try:
            self._spool.append(leftover)
            self._spool.close()
        finally:
            self._spool_lock.release()
        if leftover:
            logger.warning(
                "batchgate: %d event(s) not delivered to %s before exit; left in the spool",
                len(leftover),
                self._url,
            )

    def forget(self) -> None:
        """After fork, in the child: drop this sender without touching the parent's spool."""
        self._spool.forget()

    # -- the sending thread ----------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None or self._abandoned:
            return
        thread = threading.Thread(target=self._run, name="batchgate-sender", daemon=True)
        self._thread = thread
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: finish_close delivers inline
            self._thread = None

    def _run(self) -> None:
        idle_since: float | None = None
        while True:
            with self._cond:
                self._wait_until_due()
                self._rounds_started += 1
                events = list(self._queue)
                self._queue.clear()
                # In flight from here on (until `_deliver` is done with them), not only once
                # sending begins: exit giving up on this thread while it takes a source's
                # events spools these too. Those events join the same list.
                self._inflight = events
                jobs = list(self._jobs)
                sources = list(self._sources)
                self._due_at = None
                force, self._force_progress = self._force_progress, False
                closing = self._closing
            for take in sources:
                try:
                    events.extend(take())
                except Exception:  # a source's bug must not stop the sending
                    logger.exception("batchgate: could not take a source's events")
            now = time.monotonic()
            for job in jobs:
                event = job._periodic_event(now, self._down, force)
                if event is not None:
                    events.append(event)
            try:
                self._deliver(events, closing)
                # Also when closing: a short cron job may be the only chance to deliver them.
                if not self._down and now >= self._next_orphan_scan and self._time_left():
                    self._next_orphan_scan = now + ORPHAN_SCAN_SECONDS
                    self._deliver_orphans()
            except Exception:  # a bug here must cost monitoring, never the job
                logger.exception("batchgate: internal error in the sender; events may be lost")
            with self._cond:
                self._rounds_done += 1
                self._cond.notify_all()
                if self._abandoned:
                    self._thread = None
                    return
                busy = bool(self._queue or self._jobs or self._spool.pending)
                busy = busy or self._due_at is not None
                settled = not self._spool.pending or self._down
                if self._closing and not self._queue and not self._force_progress and settled:
                    self._close_spool()
                    self._thread = None
                    return
                if busy:
                    idle_since = None
                elif idle_since is None:
                    idle_since = now
                elif now - idle_since >= IDLE_EXIT_SECONDS:
                    self._thread = None
                    return
                if not self._queue and not self._force_progress and not self._closing:
                    self._wait(self._next_wakeup(now))

    def _wait(self, timeout: float) -> None:
        """Under _cond: sleep until woken or `timeout` seconds have passed."""
        self._waiting_until = time.monotonic() + timeout
        try:
            self._cond.wait(timeout)
        finally:
            self._waiting_until = None

    def _wait_until_due(self) -> None:
        """Under _cond, before a round: while a source's round is due later and nothing else
        is to be sent now (the thread was started or woken by `due_in`), wait for it."""
        while self._due_at is not None and not (
            self._queue or self._force_progress or self._closing or self._abandoned
        ):
            remaining = self._due_at - time.monotonic()
            if remaining <= 0:
                return
            self._wait(remaining)

    def _next_wakeup(self, now: float) -> float:
        waits = [IDLE_EXIT_SECONDS]
        waits.extend(job._next_due(now, self._down) for job in self._jobs)
        if self._spool.pending:
            waits.append(self._retry_at - now)
        if self._due_at is not None:
            waits.append(self._due_at - time.monotonic())
        return max(0.01, min(waits))

    def _close_spool(self) -> None:
        with self._spool_lock:
            self._spool.close()

    def _deliver(self, events: list[dict[str, Any]], closing: bool) -> None:
        # `events` are in flight (`_run` marked them when it took them) until delivered or
        # spooled: if exit gives up on this thread meanwhile, the closing thread spools them
        # (a repeat is harmless, a loss is not).
        try:
            now = time.monotonic()
            waiting = self._down and now < self._retry_at
            if waiting or (self._spool.pending and not self._drain(self._spool, self._spool_lock)):
                self._to_spool(events)
                return
            remaining = self._send(events)
            if remaining:
                self._to_spool(remaining)
        finally:
            with self._cond:
                self._inflight = []

    def _drain(
        self, source: Spool | SpoolFile, lock: contextlib.AbstractContextManager[Any]
    ) -> bool:
        """Send `source` oldest first; True once it is empty, False if the collector is down.

        `lock` guards the file operations only, never a push: exit may need the file while
        this thread waits for an answer.
        """
        try:
            while True:
                with lock:
                    if self._given_up():
                        return False
                    if not source.pending:
                        return True
                    events, offset = source.peek(self.connection.batch_size)
                if events and self._send(events):
                    return False
                with lock:
                    if self._given_up():
                        return False
                    source.drop(offset)
        finally:
            with lock, contextlib.suppress(OSError):
                if not self._given_up():
                    source.compact()

    def _given_up(self) -> bool:
        """Whether exit has taken over this sender's spool (set by another thread)."""
        return self._abandoned

    def _deliver_orphans(self) -> None:
        for orphan in self._spool.orphans():
            try:
                count = orphan.size
                delivered = self._drain(orphan, contextlib.nullcontext())
            finally:
                orphan.close()
            if not delivered:
                return
            logger.info("batchgate: delivered %d bytes of events left by an earlier process", count)

    def _to_spool(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self._spool_lock:
            if self._abandoned:
                return  # the closing thread has spooled them already
            before = self._spool.dropped
            self._spool.append(events)
            location = self._spool.location
        if self._spool.dropped > before:
            self._log_once(
                "spool-full",
                logging.WARNING,
                f"the spool for {self._url} is full ({self.connection.spool_max_bytes} bytes); "
                "dropping progress events until the collector is back",
            )
        self._log_once(
            "down",
            logging.WARNING,
            f"{self._down_reason}; events are kept in {location} and retried with backoff",
        )

    def _spool_late(self, events: list[dict[str, Any]]) -> None:
        """An event arriving after exit gave up on the thread: straight to the spool."""
        with self._spool_lock:
            self._spool.append(events)
            self._spool.close()

    def _send(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Push `events` in batches; return those still to deliver (the collector is down)."""
        size = self.connection.batch_size
        for start in range(0, len(events), size):
            if not self._push(events[start : start + size]):
                return events[start:]
        return []

    def _push(self, events: list[dict[str, Any]]) -> bool:
        """One push; True when the events are done with (delivered or dropped for good)."""
        outcome, self._current = push_to_leader(
            self._transport, self._urls, self._current, self.connection.token, events,
            self._timeout(),
        )  # fmt: skip
        verdict = outcome.verdict
        if verdict is Verdict.DELIVERED:
            self._mark_up(len(events))
            if outcome.commands:
                self._hand_commands(list(outcome.commands))
            return True
        if verdict is Verdict.RETRY:
            self._mark_down(outcome)
            return False
        if verdict is Verdict.TOO_LARGE and len(events) > 1:
            half = len(events) // 2
            return self._push(events[:half]) and self._push(events[half:])
        if verdict is Verdict.REJECTED and 0 < len(outcome.bad_indices) < len(events):
            count = len(outcome.bad_indices)
            self._log_once(
                f"rejected:{outcome.reason}",
                logging.ERROR,
                f"{self._url} refused {count} event(s), dropped: {outcome.reason}",
            )
            kept = [e for i, e in enumerate(events) if i not in outcome.bad_indices]
            return self._push(kept)
        self._log_once(
            f"permanent:{outcome.status}",
            logging.ERROR,
            f"{self._url} refused a push, {len(events)} event(s) dropped: {outcome.reason}",
        )
        return True

    def _hand_commands(self, commands: list[dict[str, Any]]) -> None:
        for handler in list(self._command_handlers):
            try:
                handler(commands)
            except Exception:  # a handler's bug must not stop the sending
                logger.exception("batchgate: a command handler failed")

    def _time_left(self) -> bool:
        return self._deadline is None or time.monotonic() < self._deadline

    def _timeout(self) -> float:
        if self._deadline is None:
            return self.connection.timeout
        return max(0.05, min(self.connection.timeout, self._deadline - time.monotonic()))

    def _mark_up(self, count: int) -> None:
        self.delivered += count
        if self._down:
            logger.info("batchgate: collector at %s is reachable again", self._url)
            self._logged.discard("down")
        self._down = False
        self._failures = 0

    def _mark_down(self, outcome: Outcome) -> None:
        self._failures += 1
        delay = outcome.retry_after
        if delay is None:
            backoff = self.connection.retry_initial_delay * 2 ** min(self._failures - 1, 30)
            delay = min(self.connection.retry_max_delay, backoff) * random.uniform(0.5, 1.0)
        self._retry_at = time.monotonic() + delay
        self._down = True
        self._down_reason = outcome.reason

    def _log_once(self, key: str, level: int, message: str) -> None:
        if key in self._logged or len(self._logged) > 100:
            return
        self._logged.add(key)
        logger.log(level, "batchgate: %s", message)


# -- one sender per connection, flushed at exit ----------------------------------------------

_senders: dict[Connection, Sender] = {}
_senders_lock = threading.Lock()
_exit_hook_installed = False
_before_shutdown: list[Callable[[], None]] = []


def before_shutdown(hook: Callable[[], None]) -> None:
    """Run `hook` at the start of every `shutdown()` (and so at exit), before the senders
    close: the job module ends unfinished runs there, so their last events go out too."""
    _before_shutdown.append(hook)


def sender_for(connection: Connection) -> Sender:
    """The process's sender for `connection`, created on first use."""
    global _exit_hook_installed
    with _senders_lock:
        sender = _senders.get(connection)
        if sender is None:
            sender = _senders[connection] = Sender(connection)
            if not _exit_hook_installed:
                atexit.register(_at_exit)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_after_fork_in_child)
                _exit_hook_installed = True
        return sender


def flush(timeout: float | None = None) -> bool:
    """Deliver (or spool) everything pending now; True if done within `timeout` seconds."""
    with _senders_lock:
        senders = list(_senders.values())
    deadline = time.monotonic() + (timeout if timeout is not None else 5.0)
    done = True
    for sender in senders:
        done = sender.flush(max(0.0, deadline - time.monotonic())) and done
    return done


def shutdown(timeout: float | None = None) -> None:
    """Finish unfinished runs, deliver what is pending within the flush timeout, spool the rest.

    Runs at interpreter exit; call it yourself before `os._exit()` or in a forked worker.
    """
    for hook in _before_shutdown:
        hook()
    with _senders_lock:
        senders = list(_senders.values())
        _senders.clear()
    if timeout is None:
        timeout = max((sender.connection.flush_timeout for sender in senders), default=0.0)
    deadline = time.monotonic() + timeout
    for sender in senders:
        sender.begin_close(deadline)
    for sender in senders:
        sender.finish_close(deadline)


def _at_exit() -> None:
    try:
        shutdown()
    except Exception:
        logger.exception("batchgate: error while flushing at exit")


def _after_fork_in_child() -> None:
    # The child has no sender thread and shares the parent's spool file; it starts afresh.
    global _senders_lock
    _senders_lock = threading.Lock()
    for sender in _senders.values():
        sender.forget()
    _senders.clear()
