"""Validation of `POST /push` bodies: JSON in, `Event`s or a list of field errors out.

Validation is all-or-nothing and names every problem: the handler answers 400 with the
list and applies nothing. Pure: the receive time comes in as `now`.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchgate.collector.core.declarations import declaration_from_push
from batchgate.collector.core.model import (
    EVENT_TYPES,
    QUEUE_STATE,
    Event,
    JobKey,
    QueueSnapshot,
    Worker,
)
from batchgate.rules.facts import Readings

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}\Z")
NOT_IN_JOB_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f/\ud800-\udfff]")
"""A job name is a label value, as people write them (`nightly-backup`, `etl.orders`,
`rapport-été`), but for control characters, lone surrogates, and `/`, which only a
Pushgateway grouping key can carry (in `@base64`)."""

RESERVED_LABELS = frozenset(("status", "le"))
"""Label names batchgate's own job metrics use (`batchgate_job_runs_total{status}`, histogram
buckets), so a job's grouping key cannot use them."""

MAX_FUTURE_SKEW = 300.0
"""A client timestamp may be at most this far ahead of the server's clock (seconds)."""
MESSAGE_LIMIT = 4096
"""Messages are kept up to this many characters; a longer one is cut, not refused, and the
cut is marked (`truncated_message`)."""
MAX_EVENT_ID_LENGTH = 128
MAX_ATTEMPT = 1_000_000
"""The highest `attempt` or `max_attempts` a push may name."""
MAX_PID = 2**32 - 1
NOT_IN_HOSTNAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

_FIELDS = frozenset(
    (
        "job", "labels", "event", "run_id", "event_id", "timestamp", "progress", "resources",
        "metrics", "message", "exit_code", "duration_seconds", "lost_after", "queue", "attempt",
        "max_attempts", "schedule", "worker",
    )
)  # fmt: skip
_QUEUE_STATE_FIELDS = frozenset(
    ("event", "queue", "timestamp", "waiting", "delayed", "active", "paused")
)
_QUEUE_COUNTS = ("waiting", "delayed", "active")
MAX_QUEUE_COUNT = 2**53
_SECTIONS = (
    ("progress", Readings.PROGRESS, frozenset(Readings.PROGRESS)),
    ("resources", Readings.RESOURCES, frozenset(Readings.RESOURCES)),
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a push was refused: which event, which field, and why."""

    index: int
    field: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


def job_name_problem(name: object, max_length: int) -> str | None:
    """Why `name` cannot be a job's name, or None if it can."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > max_length:
        return f"is longer than {max_length} characters (limits.max_label_value_length)"
    bad = NOT_IN_JOB_NAMES.search(name)
    if bad is not None:
        what = "'/'" if bad.group() == "/" else f"a control or invalid character ({bad.group()!r})"
        return f"must not contain {what}"
    return None


def truncated_message(message: str) -> str:
    """`message` if it fits in MESSAGE_LIMIT characters, else its start and a mark saying how
    much was cut: "… [truncated 2,093,152 bytes]" (bytes of UTF-8)."""
    if len(message) <= MESSAGE_LIMIT:
        return message
    # The mark fits within the limit: the text before it is cut to leave room for it.
    room = MESSAGE_LIMIT - 40
    cut = len(message[room:].encode("utf-8", "surrogatepass"))
    return f"{message[:room]}… [truncated {cut:,} bytes]"


class InvalidPush(Exception):
    """The push cannot be applied; `errors` names every problem found."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True, slots=True)
class PushLimits:
    """What one push may contain. Exceeding one is a 4xx naming the limit."""

    max_events: int = 1000
    max_labels: int = 32
    max_label_value_length: int = 1024
    max_metrics: int = 64


def inflate(body: bytes, limit: int) -> bytes:
    """A gzip body, decompressed to at most `limit` bytes (a bomb is refused, not inflated)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise InvalidPush(f"body is not valid gzip: {error}") from None
    if len(data) > limit:
        raise BodyTooLarge(f"body inflates to more than {limit} bytes (limits.max_body_bytes)")
    if not inflater.eof:
        raise InvalidPush("body is not valid gzip: the stream is truncated")
    return data


class BodyTooLarge(Exception):
    """The body is larger than the configured limit once decompressed."""


def decode_body(body: bytes) -> Any:
    """Parse a JSON body, refusing NaN and Infinity, which are not JSON."""
    try:
        # What json.loads(body) does, with one decoder rather than a new one per body.
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except UnicodeDecodeError as error:
        raise InvalidPush(f"body is not UTF-8: {error.reason}") from None
    except RecursionError:
        raise InvalidPush("body is not valid JSON: nested too deeply") from None
    except ValueError as error:
        raise InvalidPush(f"body is not valid JSON: {error}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_events(payload: Any, now: float, limits: PushLimits) -> list[Event]:
    """Turn a decoded JSON body (one event object or a list of them) into validated Events."""
    if isinstance(payload, dict):
        items: list[Any] = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        raise InvalidPush("body must be an event object or an array of events")
    if not items:
        raise InvalidPush("body is an empty array: nothing to push")
    if len(items) > limits.max_events:
        raise InvalidPush(
            f"{len(items)} events in one push exceeds the limit of {limits.max_events} "
            "(limits.max_events_per_push)"
        )
    errors: list[FieldError] = []
    events = []
    for index, item in enumerate(items):
        event = _parse_event(index, item, now, limits, errors)
        if event is not None:
            events.append(event)
    if errors:
        bad = len({e.index for e in errors})
        noun = "event" if len(items) == 1 else f"{bad} event{'' if bad == 1 else 's'}"
        raise InvalidPush(f"invalid push: {noun} rejected, nothing applied", errors)
    return events


def _parse_event(
    index: int, item: Any, now: float, limits: PushLimits, errors: list[FieldError]
) -> Event | None:
    if not isinstance(item, dict):
        errors.append(FieldError(index, "", "event must be a JSON object"))
        return None
    before = len(errors)

    def fail(field: str, reason: str) -> None:
        errors.append(FieldError(index, field, reason))

    if item.get("event") == QUEUE_STATE:
        return _parse_queue_state(item, now, limits, fail, lambda: len(errors) > before)

    if not _FIELDS.issuperset(item):
        for name in sorted(item.keys() - _FIELDS):
            fail(name, "unknown field")

    job = item.get("job")
    if job is None:
        fail("job", "is required")
    else:
        problem = job_name_problem(job, limits.max_label_value_length)
        if problem is not None:
            fail("job", problem)

    labels = _parse_labels(item.get("labels"), limits, fail)

    event_type = item.get("event")
    if event_type is None:
        fail("event", "is required")
    elif event_type not in EVENT_TYPES:
        fail("event", f"must be one of {', '.join(EVENT_TYPES)}")

    run_id = item.get("run_id")
    if run_id is not None and (not isinstance(run_id, str) or not RUN_ID.match(run_id)):
        fail(
            "run_id",
            "must be 1-128 characters of A-Z a-z 0-9 . _ : @ + - not starting with a symbol",
        )

    event_id = item.get("event_id")
    if event_id is not None and (
        not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID_LENGTH
    ):
        fail("event_id", f"must be a string of 1-{MAX_EVENT_ID_LENGTH} characters")

    at = _event_time(item, now, fail)

    values: dict[str, float | None] = {}
    for group, names, known in _SECTIONS:
        section = item.get(group)
        if section is None:
            continue
        if not isinstance(section, dict):
            fail(group, "must be an object")
            continue
        if not known.issuperset(section):
            for name in sorted(section.keys() - known):
                fail(f"{group}.{name}", "unknown field")
        for name in names:
            value = section.get(name)
            if value is not None:
                values[name] = _non_negative(value, f"{group}.{name}", fail)
    percent = values.get("percent")
    if percent is not None and percent > 100:
        fail("progress.percent", "must be between 0 and 100")

    metrics = _parse_metrics(item.get("metrics"), limits, fail)

    message = item.get("message")
    if message is not None and not isinstance(message, str):
        fail("message", "must be a string")
        message = None

    exit_code = item.get("exit_code")
    if exit_code is not None and (type(exit_code) is not int or not -(2**31) <= exit_code < 2**32):
        fail("exit_code", "must be an integer")

    duration = item.get("duration_seconds")
    if duration is not None:
        duration = _non_negative(duration, "duration_seconds", fail)
        if duration is not None and duration > at:
            fail("duration_seconds", "would start the run before 1970")

    lost_after = item.get("lost_after")
    if lost_after is not None:
        lost_after = _non_negative(lost_after, "lost_after", fail)
        if lost_after == 0:
            fail("lost_after", "must be greater than 0 seconds")

    queue = item.get("queue")
    if queue is not None:
        problem = job_name_problem(queue, limits.max_label_value_length)
        if problem is not None:
            fail("queue", problem)
    attempt = _counting_number(item.get("attempt"), "attempt", fail)
    max_attempts = _counting_number(item.get("max_attempts"), "max_attempts", fail)
    declaration = declaration_from_push(item.get("schedule"), at, fail)
    worker = _parse_worker(item.get("worker"), limits, fail)

    if len(errors) > before:
        return None
    return Event(
        job=JobKey(str(job), labels),
        type=str(event_type),
        at=at,
        run_id=run_id,
        event_id=event_id,
        readings=Readings(**values),
        metrics=metrics,
        message=truncated_message(message) if message is not None else None,
        exit_code=exit_code,
        duration=duration,
        lost_after=lost_after,
        queue=queue,
        attempt=attempt,
        max_attempts=max_attempts,
        declaration=declaration,
        worker=worker,
    )


def _event_time(item: dict[str, Any], now: float, fail: Any) -> float:
    """The event's `timestamp`, or `now` when it has none (or a bad one, then failed)."""
    if "timestamp" not in item:
        return now
    parsed = _parse_timestamp(item["timestamp"])
    if isinstance(parsed, str):
        fail("timestamp", parsed)
    elif parsed > now + MAX_FUTURE_SKEW:
        fail("timestamp", f"is {parsed - now:.0f}s in the future (at most 300s allowed)")
    else:
        return parsed
    return now


def _parse_queue_state(
    item: dict[str, Any], now: float, limits: PushLimits, fail: Any, failed: Any
) -> Event | None:
    """A broker's snapshot of a queue: `{"event": "queue_state", "queue": "emails",
    "waiting": 120, "delayed": 5, "active": 3, "paused": false}`."""
    for name in sorted(item.keys() - _QUEUE_STATE_FIELDS):
        fail(name, "unknown field (a queue_state event has no job: queue, timestamp, "
             "waiting, delayed, active, paused)")  # fmt: skip
    queue = item.get("queue")
    problem = (
        "is required" if queue is None else job_name_problem(queue, limits.max_label_value_length)
    )
    if problem is not None:
        fail("queue", problem)
    counts: dict[str, int | None] = {}
    for name in _QUEUE_COUNTS:
        value = item.get(name)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_QUEUE_COUNT):
            fail(name, "must be a non-negative integer")
            value = None
        counts[name] = value
    paused = item.get("paused")
    if paused is not None and type(paused) is not bool:
        fail("paused", "must be true or false")
    at = _event_time(item, now, fail)
    if failed():
        return None
    snapshot = QueueSnapshot(paused=paused, **counts)
    return Event(job=JobKey(""), type=QUEUE_STATE, at=at, queue=str(queue), snapshot=snapshot)


def _parse_worker(value: Any, limits: PushLimits, fail: Any) -> Worker | None:
    """`{"hostname": "celery@web-1", "pid": 4242}`: the worker process (either may be left
    out, not both)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        fail("worker", 'must be an object with "hostname", "pid" or both')
        return None
    for name in sorted(value.keys() - {"hostname", "pid"}):
        fail(f"worker.{name}", "unknown field (a worker has hostname and pid)")
    hostname, pid = value.get("hostname"), value.get("pid")
    if hostname is not None and (
        not isinstance(hostname, str)
        or not 0 < len(hostname) <= limits.max_label_value_length
        or NOT_IN_HOSTNAMES.search(hostname)
    ):
        fail("worker.hostname", "must be a non-empty string without control characters, "
             f"of at most {limits.max_label_value_length} characters")  # fmt: skip
        return None
    if pid is not None and (type(pid) is not int or not 0 <= pid <= MAX_PID):
        fail("worker.pid", f"must be an integer from 0 to {MAX_PID}")
        return None
    return Worker(hostname, pid)


def _counting_number(value: Any, field: str, fail: Any) -> int | None:
    """An attempt number: an integer from 1 to MAX_ATTEMPT, or None when absent."""
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= MAX_ATTEMPT:
        fail(field, f"must be an integer from 1 to {MAX_ATTEMPT:,}")
        return None
    return value


def _parse_labels(labels: Any, limits: PushLimits, fail: Any) -> tuple[tuple[str, str], ...]:
    if labels is None:
        return ()
    if not isinstance(labels, dict):
        fail("labels", "must be an object of label names to string values")
        return ()
    if len(labels) > limits.max_labels:
        fail("labels", f"{len(labels)} labels exceeds the limit of {limits.max_labels}")
        return ()
    for name, value in labels.items():
        if not LABEL_NAME.match(name) or name.startswith("__"):
            fail(
                f"labels.{name}",
                "label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __",
            )
        elif name == "job":
            fail("labels.job", "'job' is the job's name, not a label")
        elif name in RESERVED_LABELS:
            fail(f"labels.{name}", f"'{name}' is reserved for batchgate's own job metrics")
        elif not isinstance(value, str):
            fail(f"labels.{name}", "label value must be a string")
        elif len(value) > limits.max_label_value_length:
            fail(
                f"labels.{name}",
                f"value is longer than {limits.max_label_value_length} characters",
            )
    return tuple(sorted(labels.items()))


def _parse_metrics(metrics: Any, limits: PushLimits, fail: Any) -> dict[str, float] | None:
    if metrics is None:
        return None
    if not isinstance(metrics, dict):
        fail("metrics", "must be an object of metric names to numbers")
        return None
    if len(metrics) > limits.max_metrics:
        fail("metrics", f"{len(metrics)} metrics exceeds the limit of {limits.max_metrics}")
        return None
    parsed = {}
    for name, value in metrics.items():
        if not METRIC_NAME.match(name):
            fail(f"metrics.{name}", "name must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        elif type(value) not in (int, float) or not math.isfinite(value):
            fail(f"metrics.{name}", "must be a finite number")
        else:
            parsed[name] = float(value)
    return parsed


def _non_negative(value: Any, field: str, fail: Any) -> float | None:
    # type() rather than isinstance(): JSON true/false arrive as bool, a subclass of int.
    if type(value) not in (int, float):
        fail(field, "must be a number")
    elif not math.isfinite(value):
        fail(field, "must be finite")
    elif value < 0:
        fail(field, "must not be negative")
    else:
        return float(value)
    return None


def _parse_timestamp(value: Any) -> float | str:
    """Unix seconds, or an RFC 3339 string with a time zone; a reason string if neither."""
    if type(value) in (int, float):
        if not math.isfinite(value) or value < 0:
            return "must be a non-negative, finite number of unix seconds"
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return "must be unix seconds or an RFC 3339 time such as 2024-05-01T02:00:00Z"
        if parsed.tzinfo is None:
            return "RFC 3339 time needs a time zone, such as Z or +02:00"
        if parsed.timestamp() < 0:
            return "must not be before 1970"
        return parsed.timestamp()
    return "must be unix seconds or an RFC 3339 string"
