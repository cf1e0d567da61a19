"""Celery: `monitor(app)` reports every task of the app to batchgate through Celery's signals.

    from batchgate.celery import monitor
    monitor(app)                      # in the module that makes the app: producers and workers

A task is a run of the job named as the task (`app.tasks.send_email`), its run id the task
id, its queue the queue it was routed to. Producers report it queued (`before_task_publish`);
the worker reports its start (`task_prerun`, with the attempt: Celery's retries + 1, and the
worker: its name, `celery@host`, and the pid of the process running the task), its
success, failure, retry (`task_retry`) and revocation (`task_revoked`: cancelled), and, every
`depth_every` seconds, the depth of each queue it consumes (a `queue_state` snapshot read
from the broker). Events go through the SDK's background sender: a task never waits for
batchgate, and when batchgate is down its events are spooled and sent later. They are kept
for up to LINGER seconds first; a task that ends within them is sent as one event, its end
with `duration_seconds`, which the collector reads as the whole attempt.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from batchgate.client.config import Connection
from batchgate.client.job import describe_exception
from batchgate.client.sender import Sender, before_shutdown, sender_for

logger = logging.getLogger("batchgate.celery")

DEPTH_EVERY = 30.0
"""Seconds between two reports of the depth of the queues a worker consumes."""
LINGER = 0.2
"""Seconds events wait to be handed to the sender together: a busy worker's hundreds of
events a second then make a few pushes, not hundreds (each push costs the collector a
durable commit, and the worker the request)."""


class Monitor:
    """The signal handlers of one Celery app, sending to one batchgate (see `monitor`)."""

    def __init__(self, app: Any, connection: Connection, depth_every: float | None) -> None:
        self.app = app
        self.connection = connection
        self.depth_every = depth_every
        self._stop = threading.Event()
        self._workers: dict[Any, dict[str, Any]] = {}
        """The `worker` of a start, by the worker's name (one object for every start)."""
        self._common: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        """What the start events of a task from a queue by a worker share (`_start`)."""
        self._begin_process()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._begin_process)

    def _begin_process(self) -> None:
        """Start afresh in this process (a forked pool process: what the parent keeps is the
        parent's to send, and so is its sender)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._begun: dict[str, tuple[float, Any, Any]] = {}
        """Tasks begun since the last hand-over, by id: when, the task and its request. A
        task's start event is made only if it is still running at the hand-over (`_start`);
        one that ends before is reported by its end alone (`_end`)."""
        self._sender: Sender | None = None
        """The sender this monitor is a source of (`_arm_hand_over`)."""
        self._workers.clear()
        self._common.clear()

    @property
    def sender(self) -> Sender:
        # Looked up at each use: a forked pool process gets a fresh sender (sender_for).
        return sender_for(self.connection)

    def send(self, event: dict[str, Any]) -> None:
        """Keep the event for the next hand-over to the sender (within LINGER seconds)."""
        event["timestamp"] = time.time()
        with self._lock:
            self._keep(event)

    def _keep(self, event: dict[str, Any]) -> None:
        # Under self._lock.
        self._arm_hand_over()
        self._pending.append(event)

    def _arm_hand_over(self) -> None:
        """Under self._lock, before an event (or task begun) is kept: if it is the first
        since the last hand-over, the sender's next round is due in LINGER seconds. The
        sender's own thread takes the events then (`take`): no thread of the monitor's wakes
        on a timer in the worker's process (such a thread slows Celery's task path, see
        docs/benchmarks.md)."""
        if self._pending or self._begun:
            return  # armed by the first
        try:
            sender = self.sender
            if sender is not self._sender:
                self._sender = sender
                sender.add_source(self.take)
                sender.on_commands(self.commanded)
            sender.due_in(LINGER)
        except Exception:  # monitoring must never break a task
            logger.exception("batchgate: could not queue events")

    def take(self) -> list[dict[str, Any]]:
        """The events kept so far, with the start of each task still running, now no longer
        kept (the sender calls this at each round)."""
        with self._lock:
            events, self._pending = self._pending, []
            begun, self._begun = self._begun, {}
            events.extend(self._start(task_id, *task) for task_id, task in begun.items())
        return events

    def flush_pending(self) -> None:
        """Hand the events kept so far to the sender now, with the start of each task still
        running."""
        events = self.take()
        if events:
            try:
                self.sender.enqueue_many(events)
            except Exception:  # monitoring must never break a task
                logger.exception("batchgate: could not queue events")

    def _start(self, task_id: str, at: float, task: Any, request: Any) -> dict[str, Any]:
        """The start event of a task (its attempt: Celery's retries + 1; its queue; the
        process running it and its worker's name)."""
        queue = (request.delivery_info or {}).get("routing_key")
        hostname = request.hostname
        common = self._common.get((task, queue, hostname))
        if common is None:
            common = self._common_to(task, queue, hostname)
        event = common.copy()
        event["run_id"] = task_id
        event["timestamp"] = at
        event["attempt"] = int(request.retries or 0) + 1
        return event

    def _common_to(self, task: Any, queue: Any, hostname: Any) -> dict[str, Any]:
        """What every start event of `task` run from `queue` by worker `hostname` says,
        kept for the next."""
        common: dict[str, Any] = {"job": task.name, "event": "start"}
        max_retries = getattr(task, "max_retries", None)
        if isinstance(max_retries, int):
            common["max_attempts"] = max_retries + 1
        if queue:
            common["queue"] = queue
        worker = self._workers.get(hostname)
        if worker is None:
            worker = {"pid": self._pid}
            if hostname:
                worker["hostname"] = str(hostname)
            self._workers[hostname] = worker
        common["worker"] = worker
        self._common[(task, queue, hostname)] = common
        return common

    def _end(self, task_id: str, event: str, job: str, extra: dict[str, Any] | None) -> None:
        """Keep a task's end (`event`: a success, failure or retry, with `extra` fields). A
        task begun since the last hand-over is reported whole instead: its start event,
        become its end with `duration_seconds` (one event to send and store, not two); a
        retry keeps its start."""
        now = time.time()
        with self._lock:
            self._arm_hand_over()
            begun = self._begun.pop(task_id, None)
            if begun is None or event == "retry":
                kept = {"job": job, "event": event, "run_id": task_id, "timestamp": now}
                if begun is not None:
                    self._pending.append(self._start(task_id, *begun))
            else:
                kept = self._start(task_id, *begun)
                kept["event"] = event
                kept["timestamp"] = now
                kept["duration_seconds"] = round(max(0.0, now - begun[0]), 6)
            if extra:
                kept.update(extra)
            self._pending.append(kept)

    # -- signal handlers (their keyword arguments are Celery's) -------------------------

    def published(self, sender: Any = None, headers: Any = None, routing_key: Any = None,
                  declare: Any = None, **_: Any) -> None:  # fmt: skip
        headers = headers or {}
        task_id, name = headers.get("id"), headers.get("task") or sender
        if not task_id or not name:
            return  # protocol 1 messages carry neither here
        if headers.get("retries"):
            return  # a retry's new message: the worker reports the retry itself
        event = {"job": name, "event": "queued", "run_id": task_id}
        queue = _queue_name(declare, routing_key)
        if queue:
            event["queue"] = queue
        self.send(event)

    def started(self, task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task_id is None or task is None:
            return
        at = time.time()
        with self._lock:
            self._arm_hand_over()
            self._begun[task_id] = (at, task, task.request)

    def succeeded(self, sender: Any = None, **_: Any) -> None:
        task_id = getattr(getattr(sender, "request", None), "id", None)
        if task_id:
            self._end(task_id, "success", sender.name, None)

    def failed(self, sender: Any = None, task_id: str | None = None, exception: Any = None,
               **_: Any) -> None:  # fmt: skip
        if sender is None or task_id is None:
            return
        extra = None
        if isinstance(exception, BaseException):
            extra = {"message": describe_exception(exception)}
        self._end(task_id, "fail", sender.name, extra)

    def retried(self, sender: Any = None, request: Any = None, reason: Any = None,
                **_: Any) -> None:  # fmt: skip
        task_id = getattr(request, "id", None)
        if sender is None or not task_id:
            return
        extra: dict[str, Any] = {"attempt": int(getattr(request, "retries", 0) or 0) + 1}
        if reason is not None:
            text = describe_exception(reason) if isinstance(reason, BaseException) else str(reason)
            extra["message"] = text
        self._end(task_id, "retry", sender.name, extra)

    def revoked(self, request: Any = None, terminated: Any = None, expired: Any = None,
                **_: Any) -> None:  # fmt: skip
        task_id = getattr(request, "id", None)
        name = getattr(request, "task", None) or getattr(request, "name", None)
        if not task_id or not name:
            return
        why = "expired" if expired else "terminated" if terminated else "revoked"
        self.send({"job": name, "event": "cancel", "run_id": task_id, "message": why})

    # -- commands from batchgate (POST /queues/{queue}/pause, /runs/{id}/cancel) ---------

    def commanded(self, commands: list[dict[str, Any]]) -> None:
        """Carry out what batchgate asks, off the sending thread (a broadcast to the workers
        of the app: any process of it may receive the command)."""
        threading.Thread(target=self.carry_out, args=(commands,), daemon=True).start()

    def carry_out(self, commands: list[dict[str, Any]]) -> None:
        control = self.app.control
        for command in commands:
            what = command.get("command")
            try:
                if what == "cancel" and command.get("run_id"):
                    control.revoke(command["run_id"], terminate=True)
                elif what == "pause" and command.get("queue"):
                    control.cancel_consumer(command["queue"])
                elif what == "resume" and command.get("queue"):
                    control.add_consumer(command["queue"])
                else:
                    continue
                logger.info("batchgate: %s %s", what, command.get("run_id") or command["queue"])
            except Exception:
                logger.exception("batchgate: could not carry out %s", command)

    # -- queue depth --------------------------------------------------------------------

    def worker_ready(self, sender: Any = None, **_: Any) -> None:
        if self.depth_every:
            thread = threading.Thread(target=self._report_depth, name="batchgate-celery-depth",
                                      args=(sender,), daemon=True)  # fmt: skip
            thread.start()

    def worker_shutdown(self, **_: Any) -> None:
        self._stop.set()
        self.flush_pending()

    def process_shutdown(self, **_: Any) -> None:
        """A pool process ends: what it kept goes out first (its exit may skip atexit)."""
        self.flush_pending()
        self.sender.flush(self.connection.flush_timeout)

    def _report_depth(self, consumer: Any) -> None:
        while not self._stop.is_set():
            try:
                for name, waiting in self.depths(consumer):
                    self.send({"event": "queue_state", "queue": name, "waiting": waiting})
            except Exception as error:  # a broker hiccup: try again next time
                logger.warning("batchgate: could not read the queues' depth: %s", error)
            self._stop.wait(self.depth_every)

    def depths(self, consumer: Any = None) -> list[tuple[str, int]]:
        """Each queue the worker consumes (else every queue the app declares) and how many
        messages wait in it, as the broker says (a passive declare)."""
        queues = _consumed_queues(consumer) or list(self.app.amqp.queues)
        found = []
        with self.app.connection_for_read() as connection:
            channel = connection.default_channel
            for name in queues:
                try:
                    _, waiting, _ = channel.queue_declare(queue=name, passive=True)
                except connection.channel_errors:
                    # Redis keeps no empty queue: "no queue" there means none waits.
                    waiting = 0
                found.append((name, int(waiting)))
        return found


def monitor(
    app: Any,
    *,
    url: str | None = None,
    token: str | None = None,
    depth_every: float | None = DEPTH_EVERY,
) -> Monitor:
    """Report every task of the Celery `app` to batchgate (URL and token as for `Job`:
    arguments, else BATCHGATE_URL and BATCHGATE_TOKEN). Call it where the app is made, so
    that producers and workers both run it. `depth_every=None` reports no queue depth."""
    from celery import signals  # type: ignore[import-untyped]  # imported only when asked for

    handlers = Monitor(app, Connection.resolve(url=url, token=token), depth_every)
    for signal, handler in (
        (signals.before_task_publish, handlers.published),
        (signals.task_prerun, handlers.started),
        (signals.task_success, handlers.succeeded),
        (signals.task_failure, handlers.failed),
        (signals.task_retry, handlers.retried),
        (signals.task_revoked, handlers.revoked),
        (signals.worker_ready, handlers.worker_ready),
        (signals.worker_shutdown, handlers.worker_shutdown),
        (signals.worker_process_shutdown, handlers.process_shutdown),
    ):
        # weak=False: the handlers live as long as the app; Celery would drop a bound
        # method of an object nothing else holds.
        signal.connect(handler, weak=False)
    before_shutdown(handlers.flush_pending)  # at exit, before the sender's last delivery
    return handlers


def _queue_name(declare: Any, routing_key: Any) -> str | None:
    for entity in declare or ():
        name = getattr(entity, "name", None)
        if name:
            return str(name)
    return str(routing_key) if routing_key else None


def _consumed_queues(consumer: Any) -> list[str]:
    task_consumer = getattr(consumer, "task_consumer", None)
    return [queue.name for queue in getattr(task_consumer, "queues", None) or ()]
