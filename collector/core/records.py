"""The rows the store writes: plain records, and the batch one group commit makes durable.

Standard library only: the SQLite writer process imports this module and nothing of the
server, so it starts in milliseconds. Crossing to that process, records travel as plain
tuples in field order (a NamedTuple pickles ten times slower than a tuple), so the write
side reads them by position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

UNFINISHED_STATUSES = ("running", "queued", "retrying")
"""Runs that are not over (under way, or waiting in a queue): retention never deletes them."""
_UNFINISHED_SQL = ", ".join(f"'{status}'" for status in UNFINISHED_STATUSES)
FINISHED_SQL = f"status NOT IN ({_UNFINISHED_SQL})"
"""The SQL condition of a run that is over (both stores' dialects)."""
NOT_PROGRESS_COLUMNS = (
    "run_id", "job_id", "started_at", "status", "finished_at", "duration", "queue"
)  # fmt: skip
"""The run columns a progress-only write leaves alone: its key, and the indexed columns
only a lifecycle change moves (a run whose queue changes is written whole: `State.apply`
calls that change `moved`). Rewriting an index entry that did not change doubled the cost
of a queued run's progress in SQLite (docs/benchmarks.md)."""


class JobRecord(NamedTuple):
    id: int
    name: str
    labels: str
    """Canonical JSON of the sorted grouping labels."""
    kind: str
    created_at: float
    last_seen_at: float | None
    last_start_at: float | None
    last_success_at: float | None
    last_failure_at: float | None
    last_finished_at: float | None
    last_duration: float | None
    last_run_id: str | None
    counts: str
    duration_buckets: str
    duration_sum: float
    duration_count: int
    # Schema 12's (issue 20), with defaults so that records written before them still read.
    retries: int = 0
    wait_buckets: str = "[]"
    wait_sum: float = 0.0
    wait_count: int = 0
    declaration: str | None = None
    """Schema 14's: the job's own declared schedule (JSON), or None."""


class RunRecord(NamedTuple):
    run_id: str
    job_id: int
    status: str
    started_at: float
    finished_at: float | None
    duration: float | None
    last_event_at: float
    last_progress_at: float
    percent: float | None
    done: float | None
    total: float | None
    errors: float | None
    cpu_percent: float | None
    memory_bytes: float | None
    io_read_bytes: float | None
    io_write_bytes: float | None
    metrics: str | None
    message: str | None
    exit_code: int | None
    lost_after: float | None
    samples: int
    sample_level: int
    last_sample_at: float | None
    # Schema 12's (issue 20): None for a run that was neither queued nor retried.
    queue: str | None = None
    queued_at: float | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    attempts: str | None = None
    """JSON: the run's attempts as lists (number, started_at, ended_at, outcome, message,
    and since schema 15 its worker: [hostname, pid] or null)."""
    # Schema 15's: the worker of the run's current or last attempt, when its events said.
    worker_hostname: str | None = None
    worker_pid: int | None = None


class PointRecord(NamedTuple):
    """One point of a run's timeline: a lifecycle event (seq None) or a progress sample."""

    run_id: str
    seq: int | None
    at: float
    event: str
    percent: float | None
    done: float | None
    total: float | None
    errors: float | None
    cpu_percent: float | None
    memory_bytes: float | None
    io_read_bytes: float | None
    io_write_bytes: float | None
    metrics: str | None
    message: str | None
    exit_code: int | None


class GroupEventRecord(NamedTuple):
    """A Pushgateway group that went away: expired, deleted or wiped."""

    at: float
    event: str
    labels: str
    """The grouping key (job included) as a JSON object."""
    last_push_at: float | None
    series: int


class AuditRecord(NamedTuple):
    """An admin action: who did what to what, and when."""

    at: float
    who: str
    action: str
    target: str
    details: str | None
    """JSON, or None."""


class AlertEventRecord(NamedTuple):
    """An alert firing, changing severity or resolving: a line of the alert history."""

    at: float
    event: str
    """firing, severity or resolved."""
    alert_id: str
    rule: str
    job: str
    job_labels: str
    """The job's grouping labels as a JSON object."""
    run_id: str | None
    severity: str
    value: float | None
    summary: str | None
    """The alert's `summary` annotation, if it has one."""


class SeenRecord(NamedTuple):
    """An applied event id, so a retried event is applied once."""

    event_id: str
    run_id: str
    received_at: float


class AlertRecord(NamedTuple):
    """An alert as the rules' AlertBook saves it: `Alert.to_dict()`, a fresh dict the store
    serialises (in the writer process: thousands of new alerts must not hold the event loop)."""

    id: str
    state: str
    data: dict[str, Any]


class OutboxRecord(NamedTuple):
    """A notification due to a receiver, kept until it is delivered or given up."""

    id: int
    receiver: str
    alert_id: str
    due_at: float
    data: dict[str, Any]
    """`Notification.to_dict()`, serialised by the store."""


class SilenceRecord(NamedTuple):
    id: str
    ends_at: float
    data: str
    """The silence in Alertmanager's JSON shape."""


class Thinning(NamedTuple):
    """Drop the run's sampled points whose sequence number is not a multiple of `keep_every`."""

    run_id: str
    keep_every: int


@dataclass(slots=True)
class WriteBatch:
    """Everything one group commit makes durable, applied atomically in this order:
    deletions, job upserts, run upserts, progress-only run upserts, timeline points,
    thinnings, event ids, then Pushgateway groups (a wipe first); then alert deletions and
    upserts, the alert history, outbox additions and removals, silence upserts and deletions
    (so an alert's change and the notifications it made are durable together)."""

    deleted_jobs: list[int] = field(default_factory=list)
    jobs: list[JobRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    run_progress: list[RunRecord] = field(default_factory=list)
    """Runs whose status, end and duration did not change since their last commit."""
    points: list[PointRecord] = field(default_factory=list)
    thinnings: list[Thinning] = field(default_factory=list)
    seen: list[SeenRecord] = field(default_factory=list)
    groups_wiped: bool = False
    """Delete every stored Pushgateway group first (before `groups`)."""
    groups: list[tuple[str, str | None]] = field(default_factory=list)
    """Pushgateway groups by key text: their snapshot, or None to delete it."""
    group_events: list[GroupEventRecord] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    alert_events: list[AlertEventRecord] = field(default_factory=list)
    deleted_alerts: list[str] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    notifications: list[OutboxRecord] = field(default_factory=list)
    finished_notifications: list[int] = field(default_factory=list)
    """Outbox rows delivered or given up."""
    silences: list[SilenceRecord] = field(default_factory=list)
    deleted_silences: list[str] = field(default_factory=list)
    alive_at: float = 0.0
    """When the batch was taken: the server was listening then (see `Restored.alive_at`)."""

    def __len__(self) -> int:
        return (
            len(self.deleted_jobs) + len(self.jobs) + len(self.runs) + len(self.run_progress)
            + len(self.points) + len(self.thinnings) + len(self.seen) + len(self.groups)
            + len(self.group_events) + int(self.groups_wiped)
            + len(self.deleted_alerts) + len(self.alerts) + len(self.notifications)
            + len(self.finished_notifications) + len(self.silences) + len(self.deleted_silences)
            + len(self.audit) + len(self.alert_events)
        )  # fmt: skip


@dataclass(slots=True)
class RunStats:
    """Runs of some jobs started in a period, for trends. Durations are of succeeded runs;
    percentiles interpolate between the two nearest runs."""

    counts: dict[str, int]
    duration_avg: float | None = None
    duration_p50: float | None = None
    duration_p95: float | None = None
    duration_max: float | None = None
    records_done: float = 0.0
    """Records processed by succeeded runs that reported `done`..."""
    records_seconds: float = 0.0
    """...and the seconds those runs took."""


@dataclass(slots=True)
class QueueHistory:
    """What the store holds of the queues' last day, for the queue book at a start: the
    runs that named a queue and finished, counted by minute of their end and final status;
    the ends of their attempts retried; the wait and run time of those finished in the
    last hour."""

    counts: list[tuple[str, int, str, int, float]] = field(default_factory=list)
    """(queue, minute, status, runs, the last end in that minute)."""
    retries: list[tuple[str, str]] = field(default_factory=list)
    """(queue, attempts JSON) of the finished runs retried at least once."""
    timings: list[tuple[str, float, float | None, float | None]] = field(default_factory=list)
    """(queue, finished at, wait or None, run time or None), oldest first."""


@dataclass(slots=True)
class QueueStats:
    """Runs of a queue started (queued) in a period, for its trends: counts by status now,
    retries (attempts past each run's first), waits (queueing to first attempt) and run
    times (first attempt to end) of its finished runs; percentiles interpolate."""

    counts: dict[str, int]
    retries: int = 0
    wait_p50: float | None = None
    wait_p95: float | None = None
    run_p50: float | None = None
    run_p95: float | None = None
