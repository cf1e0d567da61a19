"""`Job`: one monitored run of a batch job, as a context manager, a decorator, or by hand.

Every call a job makes on its hot path (`progress`, `metric`) only updates fields of this
object; the sender's thread reads them at most once per `progress_interval` and sends the
latest values. Start and finish events are queued for that thread. Nothing here waits on
the network, and nothing raises into the job because the collector misbehaves.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import math
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar

from batchgate.client.config import (
    MAX_METRICS,
    MESSAGE_LIMIT,
    METRIC_NAME,
    Connection,
    check_job_name,
    check_labels,
    check_run_id,
    labels_from_environment,
)
from batchgate.client.declaration import declaration
from batchgate.client.ids import time_ordered_id
from batchgate.client.resources import ProcessSampler, ResourceSampler
from batchgate.client.sender import Sender, before_shutdown, sender_for

logger = logging.getLogger("batchgate.client")

P = ParamSpec("P")
R = TypeVar("R")

_NEW: Final = "new"
_RUNNING: Final = "running"
_FINISHED: Final = "finished"

_current: contextvars.ContextVar[Job | None] = contextvars.ContextVar(
    "batchgate_current_job", default=None
)
_logged_once: set[str] = set()


def current_job() -> Job | None:
    """The innermost `Job` entered with `with` (or a decorated call) in this context."""
    return _current.get()


def _log_once(key: str, message: str, *args: object) -> None:
    if key not in _logged_once and len(_logged_once) < 100:
        _logged_once.add(key)
        logger.warning("batchgate: " + message, *args)


def _finite(value: object) -> float | int | None:
    """A finite number for the wire, or None. numpy scalars and Decimals are converted."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    try:
        number = value if type(value) is float else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _number(value: object) -> float | int | None:
    """A finite, non-negative number for the wire, or None."""
    number = _finite(value)
    return number if number is not None and number >= 0 else None


def _fitted(message: str) -> str:
    """The message as the collector keeps it: cut to MESSAGE_LIMIT characters, the cut
    marked with how many bytes (of UTF-8) went."""
    if len(message) <= MESSAGE_LIMIT:
        return message
    room = MESSAGE_LIMIT - 40
    cut = len(message[room:].encode("utf-8", "surrogatepass"))
    return f"{message[:room]}… [truncated {cut:,} bytes]"


def describe_exception(error: BaseException) -> str:
    """`Type: message` as Python prints it, then as much of the traceback as fits."""
    head = "".join(traceback.format_exception_only(error)).strip()
    tail = "".join(traceback.format_exception(error)).strip()
    room = MESSAGE_LIMIT - len(head) - 2
    if room < 200:
        return head[:MESSAGE_LIMIT]
    if len(tail) > room:
        tail = "..." + tail[-(room - 3) :]
    return f"{head}\n\n{tail}"


class Job:
    """One run of a monitored job.

    `with Job("etl") as job:` sends `start`, then `success` on a normal exit, `fail` with the
    exception (re-raised) on an error, `cancel` on KeyboardInterrupt. `@Job("etl")` does the
    same around every call of a function, each call a new run. `start()`, `success()`,
    `fail()` and `cancel()` do it by hand.

    - `labels`: the grouping key, merged over BATCHGATE_LABELS (`k=v,k2=v2`).
    - `url`, `token`: the collector (else BATCHGATE_URL, BATCHGATE_TOKEN, then
      http://127.0.0.1:9091); or pass a whole `connection`.
    - `run_id`: this run's id; by default a new time-ordered one (UUIDv7, 32 hex digits:
      `batchgate.client.ids`).
    - `heartbeat`: seconds between heartbeats with this process's CPU, memory and I/O
      (None or 0 turns them off). The run is declared lost by the collector after
      `lost_after` seconds of silence: 4 heartbeats, at least a minute, unless given.
    - `progress_interval`: at most one progress event per this many seconds.
    - `sampler`: what heartbeats measure: this process by default; `batchgate run` passes
      one that measures the command's whole process tree.
    - `schedule` (a 5-field cron expression), `timezone` (IANA, default UTC), `grace`
      (`30m`, or seconds), `max_runtime` (`2h`, or seconds) and `finish_within` (how long
      after its scheduled time a run must have succeeded): the job declares when it is
      expected to run and how long it may take; each start sends them, the collector keeps
      the latest and alerts on a missed run, a missed deadline or an overlong run with no
      rules file.

    Bad names or labels passed here raise ValueError at once; everything after that
    (an unreachable collector, a refused push, a bad metric value) is logged, never raised.
    """

    __slots__ = (
        "__weakref__",
        "_context_tokens",
        "_declaration",
        "_dirty",
        "_done",
        "_errors",
        "_fixed_run_id",
        "_heartbeat",
        "_last_progress_sent",
        "_last_sent",
        "_lock",
        "_lost_after",
        "_metrics",
        "_metrics_pending",
        "_percent",
        "_pid",
        "_progress_interval",
        "_sampler",
        "_sender",
        "_started_at",
        "_state",
        "_total",
        "connection",
        "labels",
        "name",
        "run_id",
    )

    def __init__(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        url: str | None = None,
        token: str | None = None,
        run_id: str | None = None,
        heartbeat: float | None = 30.0,
        *,
        progress_interval: float = 1.0,
        lost_after: float | None = None,
        connection: Connection | None = None,
        sampler: ResourceSampler | None = None,
        schedule: str | None = None,
        timezone: str | None = None,
        grace: float | str | None = None,
        max_runtime: float | str | None = None,
        finish_within: float | str | None = None,
    ) -> None:
        self.name = check_job_name(name)
        self._declaration = declaration(schedule, timezone, grace, max_runtime, finish_within)
        merged = labels_from_environment()
        merged.update(check_labels(labels or {}))
        self.labels = merged
        self.connection = connection or Connection.resolve(url, token)
        self._fixed_run_id = check_run_id(run_id) if run_id is not None else None
        self.run_id = self._fixed_run_id or time_ordered_id()
        if heartbeat is not None and not heartbeat >= 0:
            raise ValueError("heartbeat must be a non-negative number of seconds, or None")
        self._heartbeat = float(heartbeat) if heartbeat else None
        if not progress_interval >= 0:
            raise ValueError("progress_interval must be a non-negative number of seconds")
        self._progress_interval = float(progress_interval)
        if lost_after is None and self._heartbeat is not None:
            lost_after = max(4 * self._heartbeat, 60.0)
        if lost_after is not None and not lost_after > 0:
            raise ValueError("lost_after must be a positive number of seconds")
        self._lost_after = lost_after
        self._sampler: ResourceSampler = sampler or ProcessSampler()
        self._lock = threading.Lock()
        self._sender: Sender | None = None
        self._state = _NEW
        self._context_tokens: list[contextvars.Token[Job | None]] = []
        self._pid = os.getpid()
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._done: float | int | None = None
        self._total: float | int | None = None
        self._percent: float | int | None = None
        self._errors: float | int | None = None
        self._dirty = False
        self._metrics: dict[str, float | int] = {}
        self._metrics_pending: dict[str, float | int] = {}
        self._started_at = 0.0
        self._last_sent = 0.0
        self._last_progress_sent = 0.0

    def __repr__(self) -> str:
        return f"Job({self.name!r}, labels={self.labels!r}, run_id={self.run_id!r}, {self._state})"

    # -- the hot path ----------------------------------------------------------------------

    def progress(
        self,
        done: float | None = None,
        total: float | None = None,
        percent: float | None = None,
        errors: float | None = None,
    ) -> None:
        """Record how far the run is. Returns at once; the latest values are sent in the
        background at most once per `progress_interval`. `done`/`total`/`errors` are counts
        (records, files, bytes...), `percent` is 0-100; give any of them."""
        if done is not None:
            self._done = done
        if total is not None:
            self._total = total
        if percent is not None:
            self._percent = percent
        if errors is not None:
            self._errors = errors
        self._dirty = True

    def metric(self, name: str, value: float) -> None:
        """Set a custom numeric metric of this run (sent with the next progress or finish)."""
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            _log_once(f"metric-name:{name}", "metric name %r is invalid; ignored", name)
            return
        number = _finite(value)
        if number is None:
            _log_once(f"metric-value:{name}", "metric %s=%r is not a finite number", name, value)
            return
        with self._lock:
            if name not in self._metrics and len(self._metrics) >= MAX_METRICS:
                _log_once("metrics-full", "more than %d metrics; %r ignored", MAX_METRICS, name)
                return
            self._metrics[name] = number
            self._metrics_pending[name] = number
        self._dirty = True

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Job:
        """Send `start` and begin heartbeats. A finished job starts a new run (new run_id)."""
        try:
            with self._lock:
                if self._state == _RUNNING:
                    return self
                if self._state == _FINISHED:
                    self.run_id = self._fixed_run_id or time_ordered_id()
                    self._reset_run_state()
                self._state = _RUNNING
                self._pid = os.getpid()
                now = time.monotonic()
                self._started_at = self._last_sent = self._last_progress_sent = now
                event = self._event("start")
                if self._lost_after is not None:
                    event["lost_after"] = self._lost_after
                if self._declaration is not None:
                    event["schedule"] = self._declaration
                self._add_progress(event)
                self._dirty = False
                sender = self._sender = sender_for(self.connection)
            sender.register(self)
            _unfinished.add(self)
            sender.enqueue(event)
        except Exception:
            logger.exception("batchgate: could not start monitoring job %s", self.name)
        return self

    def success(self, message: str | None = None, *, duration_seconds: float | None = None) -> None:
        """Send `success` with the final progress and metrics."""
        self._finish("success", message, None, duration_seconds)

    def fail(
        self,
        message: str | None = None,
        *,
        exit_code: int | None = None,
        duration_seconds: float | None = None,
    ) -> None:
        """Send `fail` with a message (what went wrong) and optionally an exit code."""
        self._finish("fail", message, exit_code, duration_seconds)

    def cancel(self, message: str | None = None, *, exit_code: int | None = None) -> None:
        """Send `cancel`: the run was stopped on purpose (Ctrl-C, a signal, a shutdown)."""
        self._finish("cancel", message, exit_code, None)

    def _finish(
        self,
        kind: str,
        message: str | None,
        exit_code: int | None,
        duration_seconds: float | None,
    ) -> None:
        try:
            with self._lock:
                if self._state == _FINISHED or self._pid != os.getpid():
                    return
                event = self._event(kind)
                if self._state == _NEW and duration_seconds is not None:
                    event["duration_seconds"] = _number(duration_seconds) or 0.0
                self._add_progress(event)
                if self._metrics:
                    event["metrics"] = dict(self._metrics)
                self._metrics_pending.clear()
                self._dirty = False
                if self._state == _RUNNING:
                    resources = self._sampler.sample()
                    if resources:
                        event["resources"] = resources
                if message:
                    event["message"] = _fitted(str(message))
                if exit_code is not None:
                    event["exit_code"] = int(exit_code)
                self._state = _FINISHED
                sender = self._sender or sender_for(self.connection)
                self._sender = None
            sender.unregister(self)
            _unfinished.discard(self)
            sender.enqueue(event)
        except Exception:
            logger.exception("batchgate: could not report the end of job %s", self.name)

    # -- context manager and decorator -----------------------------------------------------

    def __enter__(self) -> Job:
        self.start()
        self._context_tokens.append(_current.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._context_tokens:
            token = self._context_tokens.pop()
            # ValueError: exited in another context than the one it was entered in.
            with contextlib.suppress(ValueError):
                _current.reset(token)
        self._finish_with(exc)

    async def __aenter__(self) -> Job:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _finish_with(self, error: BaseException | None) -> None:
        if error is None:
            self.success()
        elif isinstance(error, KeyboardInterrupt):
            self.cancel("interrupted (KeyboardInterrupt)")
        elif isinstance(error, SystemExit):
            code = error.code
            if code is None or code == 0:
                self.success()
            elif isinstance(code, int):
                self.fail(f"SystemExit: {code}", exit_code=code)
            else:
                self.fail(str(code), exit_code=1)
        elif isinstance(error, Exception):
            self.fail(describe_exception(error))
        else:  # GeneratorExit, asyncio.CancelledError: stopped from outside, not failed
            self.cancel("".join(traceback.format_exception_only(error)).strip())

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        """Decorate `function`: each call is a new run of this job."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self._copy():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with self._copy():
                return function(*args, **kwargs)

        return run

    def _copy(self) -> Job:
        copy = Job(
            self.name,
            self.labels,
            heartbeat=self._heartbeat,
            progress_interval=self._progress_interval,
            lost_after=self._lost_after,
            connection=self.connection,
        )
        copy._declaration = self._declaration  # checked already
        return copy

    # -- read by the sender's thread -------------------------------------------------------

    def _event(self, kind: str) -> dict[str, Any]:
        event: dict[str, Any] = {"job": self.name}
        if self.labels:
            event["labels"] = self.labels
        event["event"] = kind
        event["run_id"] = self.run_id
        event["event_id"] = time_ordered_id()
        event["timestamp"] = round(time.time(), 6)
        return event

    def _add_progress(self, event: dict[str, Any]) -> None:
        section = {}
        for field, value in (
            ("done", self._done),
            ("total", self._total),
            ("percent", self._percent),
            ("errors", self._errors),
        ):
            if value is None:
                continue
            number = _number(value)
            if number is None:
                _log_once(
                    f"progress:{field}", "progress %s=%r is not a non-negative number", field, value
                )
                continue
            if field == "percent" and number > 100:
                _log_once(
                    "progress:percent>100", "progress percent=%r is over 100; sent as 100", value
                )
                number = 100
            section[field] = number
        if section:
            event["progress"] = section

    def _periodic_event(self, now: float, down: bool, force: bool) -> dict[str, Any] | None:
        """The progress or heartbeat event due at `now` (monotonic), if any."""
        with self._lock:
            if self._state != _RUNNING:
                return None
            interval = self._progress_interval
            if down and self._heartbeat:  # spooling: keep the spool small
                interval = max(interval, self._heartbeat)
            heartbeat_due = self._heartbeat is not None and now - self._last_sent >= self._heartbeat
            progress_due = self._dirty and (force or now - self._last_progress_sent >= interval)
            if not (progress_due or heartbeat_due):
                return None
            event = self._event("progress")
            if progress_due:
                self._dirty = False
                self._add_progress(event)
                if self._metrics_pending:
                    event["metrics"] = self._metrics_pending
                    self._metrics_pending = {}
                self._last_progress_sent = now
            resources = self._sampler.sample()
            if resources:
                event["resources"] = resources
            self._last_sent = now
            return event

    def _next_due(self, now: float, down: bool) -> float:
        """Seconds until this job may next have something to send (lock-free, approximate)."""
        interval = self._progress_interval
        if down and self._heartbeat:
            interval = max(interval, self._heartbeat)
        until_progress = self._last_progress_sent + interval - now
        wait = until_progress if until_progress > 0 else interval
        if self._heartbeat is not None:
            wait = min(wait, self._last_sent + self._heartbeat - now)
        return max(wait, 0.0)


_unfinished: weakref.WeakSet[Job] = weakref.WeakSet()
"""Runs started in this process and not yet ended."""


def _fail_unfinished() -> None:
    """At shutdown (and at exit), a run that was never finished fails rather than goes
    silent."""
    for job in list(_unfinished):
        job.fail("the process exited before the run reported success or failure")


before_shutdown(_fail_unfinished)
