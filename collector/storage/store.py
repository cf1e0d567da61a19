"""The store: where history lives, behind one narrow interface.

SQLite (`collector.storage.sqlite.store`) is the embedded default. Everything above this module
talks to `Store` only, so a shared database server can replace SQLite without touching
handlers, state or the writer. Records are plain tuples, snapshotted on the event loop
(where runs and jobs are mutated) and handed to the store to make durable.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from batchgate.collector.core.model import (
    DURATION_BUCKETS,
    WAIT_BUCKETS,
    Attempt,
    Job,
    JobKey,
    Run,
    Worker,
)
from batchgate.collector.core.records import (
    AlertEventRecord,
    AlertRecord,
    AuditRecord,
    GroupEventRecord,
    JobRecord,
    OutboxRecord,
    PointRecord,
    QueueHistory,
    QueueStats,
    RunRecord,
    RunStats,
    SeenRecord,
    WriteBatch,
)
from batchgate.collector.core.state import Sample
from batchgate.rules import Alert
from batchgate.rules.declarations import declaration_from_text, declaration_to_text
from batchgate.rules.facts import Readings

COUNT_BUCKET = 300
"""Seconds of start times one row of `run_counts` counts (the stores' schema version 9: the
database keeps them with triggers as runs are written, ended and deleted)."""


@dataclass(slots=True)
class Restored:
    """What the store hands back at start: enough to rebuild the live state exactly."""

    jobs: list[Job]
    seen: list[SeenRecord]
    seen_since: float
    groups: list[str] = field(default_factory=list)
    """Snapshots of the stored Pushgateway groups."""
    alive_at: float = 0.0
    """The last time the previous server is known to have been listening: its last commit
    (it makes one at least every `writer.ALIVE_EVERY` seconds)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """How long each step of the restore took, by name (the server logs them at start)."""
    queues: QueueHistory = field(default_factory=QueueHistory)
    """The queues' last day, for the queue book's windows."""


@dataclass(slots=True)
class AlertingState:
    """What the store hands back for alerting at start: the alert book, the outbox, silences."""

    alerts: list[dict[str, object]]
    """`Alert.to_dict()` of every stored alert."""
    outbox: list[OutboxRecord]
    """Notifications not yet delivered, oldest first."""
    silences: list[dict[str, object]]


class Store(Protocol):
    """Where history lives. Writes come from the one writer, in order; reads from anywhere."""

    async def open(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        """Create or migrate the schema and return the state to restore."""

    async def close(self) -> None:
        """Release connections; pending writes must have been committed by the writer."""

    async def commit(self, batch: WriteBatch) -> None:
        """Apply the batch atomically and durably; raise and change nothing if it cannot."""

    async def prune(
        self, older_than: float, max_runs_per_job: int, seen_before: float
    ) -> list[str]:
        """Delete runs started before `older_than` (and group history as old), runs beyond
        the newest `max_runs_per_job` of each job, and event ids received before
        `seen_before`. Running runs and each job's last run are kept. Returns the ids of the
        runs deleted. Called by the writer, so it never races a commit."""

    async def get_runs(self, run_ids: list[str]) -> list[Run]:
        """The stored runs with these ids (unknown ids are left out)."""

    async def timeline(self, run_id: str) -> list[PointRecord]:
        """The run's timeline, oldest first."""

    async def list_runs(
        self,
        job_ids: list[int],
        statuses: list[str] | None,
        since: float | None,
        until: float | None,
        before: tuple[float, str] | None,
        limit: int,
    ) -> list[Run]:
        """Runs of these jobs, newest first (by start, then run id), started in
        [since, until), strictly older than the `before` (started_at, run_id) cursor."""

    async def run_stats(self, job_ids: list[int] | None, since: float) -> RunStats:
        """Counts by status and succeeded durations of runs started since `since`, of these
        jobs or (None) of all jobs."""

    async def queue_stats(self, queue: str, since: float) -> QueueStats:
        """Counts by status, retries, and wait and run time p50/p95 of the runs of `queue`
        started (queued) since `since`."""

    async def run_counts(self, since: float) -> dict[str, int]:
        """Runs of every job started since `since`, by their status now: exact, and as cheap
        with a million runs as with none (the overview and /summary ask it at every load)."""

    async def seen_event_ids(self, event_ids: list[str]) -> list[SeenRecord]:
        """Which of these event ids were already applied."""

    async def group_history(self, limit: int) -> list[GroupEventRecord]:
        """The Pushgateway groups that went away, newest first."""

    async def audit(self, limit: int, before: float | None) -> list[AuditRecord]:
        """Admin actions, newest first, older than `before` when given."""

    async def alert_history(
        self,
        job: str | None,
        rule: str | None,
        since: float | None,
        until: float | None,
        before: tuple[float, int] | None,
        limit: int,
    ) -> list[tuple[int, AlertEventRecord]]:
        """Alerts firing, changing severity and resolving, newest first, each with its id:
        of this job and rule when given, at [since, until), strictly older than the
        `before` (at, id) cursor."""

    async def check(self) -> None:
        """Raise if the database cannot be read (health checks)."""

    async def housekeeping(self) -> None:
        """Upkeep the store needs off the write path, called every second (a no-op where
        there is none)."""

    wal_limit_bytes: int
    """The size the store keeps its write-ahead log under (0: it keeps none of its own)."""

    def wal_bytes(self) -> int:
        """The bytes the store's own write-ahead log holds: what a start after a crash
        reads (0 where the store keeps none)."""

    async def alerting_state(self) -> AlertingState:
        """The stored alerts, undelivered notifications and silences (read once, at start)."""


def labels_json(key: JobKey) -> str:
    return json.dumps(dict(key.labels), sort_keys=True, separators=(",", ":"))


def job_record(job: Job) -> JobRecord:
    return JobRecord(
        job.id,
        job.name,
        labels_json(job.key),
        job.kind,
        job.created_at,
        job.last_seen_at,
        job.last_start_at,
        job.last_success_at,
        job.last_failure_at,
        job.last_finished_at,
        job.last_duration,
        job.last_run.run_id if job.last_run is not None else None,
        json.dumps(job.counts, sort_keys=True),
        json.dumps(job.duration_buckets),
        job.duration_sum,
        job.duration_count,
        job.retries,
        json.dumps(job.wait_buckets),
        job.wait_sum,
        job.wait_count,
        declaration_to_text(job.declaration),
    )


def first_whole_bucket(since: float) -> int:
    """The first row of `run_counts` whose five minutes all come after `since`: the rows
    from it on count whole; the runs between `since` and its start are counted one by one."""
    return -int(-since // COUNT_BUCKET)


def added_counts(*parts: Iterable[Any]) -> dict[str, int]:
    """Runs by status, added up over parts (rows of status and count), without zeros."""
    counts: dict[str, int] = {}
    for part in parts:
        for status, runs in part:
            counts[status] = counts.get(status, 0) + int(runs)
    return {status: runs for status, runs in counts.items() if runs}


WAITING = "status IN ('queued', 'retrying')"
"""The runs that wait for a worker, as schema 12's index `runs_waiting` names them (a
query must say it the same way for the index to serve it)."""


QUEUE_DAY = 86400.0
"""How far back a start reads the queues' history: the queue book's longest window."""
QUEUE_HOUR = 3600.0
"""...and their waits and run times: the window of the percentiles."""
QUEUE_ENDED = (
    "queue IS NOT NULL AND finished_at >= {since} "
    "AND status IN ('succeeded', 'failed', 'lost', 'cancelled')"
)
"""The finished runs of a queue since `{since}`, as schema 16's index `runs_queue_finished`
serves them (each store puts its parameter in)."""


WAIT_OF_FINISHED = "finished_at - duration - queued_at"
"""A finished queued run's wait, from its columns: its first attempt began at `finished_at -
duration` (its duration counts from it)."""


def queue_history_queries(minute: str, mark: str) -> tuple[str, str, str]:
    """The three queries of `QueueHistory` (counts, retries, timings) in a store's dialect:
    `minute` is its expression of a run's minute of end, `mark` its first parameter's."""
    ended = QUEUE_ENDED.format(since=mark)
    return (
        f"SELECT queue, {minute} AS minute, status, count(*), max(finished_at) FROM runs "
        f"WHERE {ended} GROUP BY queue, minute, status",
        f"SELECT queue, attempts FROM runs WHERE {ended} AND attempts LIKE '%\"retry\"%'",
        f"SELECT queue, finished_at, CASE WHEN queued_at IS NOT NULL AND duration IS NOT NULL "
        f"THEN {WAIT_OF_FINISHED} END, duration FROM runs WHERE {ended} ORDER BY finished_at",
    )


def job_key_of(name: str, labels: str) -> JobKey:
    """A job's key from its stored name and labels (a JSON object)."""
    return JobKey(name, tuple(sorted(json.loads(labels).items())))


def job_from_record(record: JobRecord, recent_runs: int) -> Job:
    """A stored job as the live state holds it, without its runs (the restore adds them)."""
    buckets = json.loads(record.duration_buckets)
    if len(buckets) != len(DURATION_BUCKETS):
        buckets = [0] * len(DURATION_BUCKETS)
    return Job(
        key=job_key_of(record.name, record.labels),
        id=record.id,
        created_at=record.created_at,
        kind=record.kind,
        recent=deque(maxlen=recent_runs),
        last_seen_at=record.last_seen_at,
        last_start_at=record.last_start_at,
        last_success_at=record.last_success_at,
        last_failure_at=record.last_failure_at,
        last_finished_at=record.last_finished_at,
        last_duration=record.last_duration,
        counts=json.loads(record.counts),
        duration_buckets=buckets,
        duration_sum=record.duration_sum,
        duration_count=record.duration_count,
        retries=record.retries,
        wait_buckets=_buckets(record.wait_buckets, len(WAIT_BUCKETS)),
        wait_sum=record.wait_sum,
        wait_count=record.wait_count,
        declaration=declaration_from_text(record.declaration),
    )


def _buckets(text: str, size: int) -> list[int]:
    """Stored bucket counts, or zeros when their number differs (the bounds changed, or
    a job stored before the histogram existed)."""
    buckets: list[int] = json.loads(text)
    return buckets if len(buckets) == size else [0] * size


def last_runs_to_read(last_ids: dict[str, Job]) -> dict[str, Job]:
    """At a restore, give each job whose last run is running or waiting (restored already)
    that run; the jobs whose last run is still to read, by its id."""
    unread: dict[str, Job] = {}
    for run_id, job in last_ids.items():
        live = job.running.get(run_id) or job.waiting.get(run_id)
        if live is None:
            unread[run_id] = job
        else:
            job.last_run = live
    return unread


def last_finished_to_read(newest_finished: dict[str, Job]) -> dict[str, Job]:
    """At a restore, give each job whose newest finished run is its last run (mostly: read
    already) that run as its last finished; the jobs whose newest finished run is still to
    read, by its id."""
    unread: dict[str, Job] = {}
    for run_id, job in newest_finished.items():
        if job.last_run is not None and job.last_run.run_id == run_id:
            job.last_finished = job.last_run
        else:
            unread[run_id] = job
    return unread


def run_from_record(record: RunRecord, job: JobKey) -> Run:
    """A stored run of the job keyed `job`, as the live state holds it."""
    return Run(
        run_id=record.run_id,
        job=job,
        status=record.status,
        started_at=record.started_at,
        last_event_at=record.last_event_at,
        last_progress_at=record.last_progress_at,
        finished_at=record.finished_at,
        readings=Readings(*(getattr(record, name) for name in Readings.FIELDS)),
        metrics=json.loads(record.metrics) if record.metrics else {},
        message=record.message,
        exit_code=record.exit_code,
        lost_after=record.lost_after,
        samples=record.samples,
        sample_level=record.sample_level,
        last_sample_at=record.last_sample_at if record.last_sample_at is not None else -1e300,
        untimed=record.finished_at is not None and record.duration is None,
        queue=record.queue,
        queued_at=record.queued_at,
        attempt=record.attempt,
        max_attempts=record.max_attempts,
        attempts=[_attempt(*values) for values in json.loads(record.attempts)]
        if record.attempts
        else [],
        worker=_worker(record.worker_hostname, record.worker_pid),
    )


def _attempt(
    number: int,
    started_at: float,
    ended_at: float | None = None,
    outcome: str | None = None,
    message: str | None = None,
    worker: list[Any] | None = None,
) -> Attempt:
    """A stored attempt (its JSON list; one stored before schema 15 has no worker)."""
    return Attempt(
        number, started_at, ended_at, outcome, message, Worker(*worker) if worker else None
    )


def _worker(hostname: str | None, pid: int | None) -> Worker | None:
    return None if hostname is None and pid is None else Worker(hostname, pid)


def run_record(run: Run, job_id: int) -> RunRecord:
    return RunRecord(
        run.run_id,
        job_id,
        run.status,
        run.started_at,
        run.finished_at,
        run.duration,
        run.last_event_at,
        run.last_progress_at,
        *run.readings.values(),
        json.dumps(run.metrics) if run.metrics else None,
        run.message,
        run.exit_code,
        run.lost_after,
        run.samples,
        run.sample_level,
        run.last_sample_at if run.samples else None,
        run.queue,
        run.queued_at,
        run.attempt,
        run.max_attempts,
        attempts_text(run),
        *(run.worker or _NO_WORKER),
    )


_NO_WORKER = (None, None)


def attempts_text(run: Run) -> str | None:
    """The run's attempts as stored (JSON lists), encoded again only once they changed."""
    attempts = run.attempts
    if not attempts:
        return None
    encoded = run.encoded_attempts
    # Unchanged attempts are the same tuples: the comparison is one identity check each.
    if encoded is not None and encoded[0] == attempts:
        return encoded[1]
    text = json.dumps(attempts)
    run.encoded_attempts = (attempts.copy(), text)
    return text


def point_record(sample: Sample) -> PointRecord:
    event = sample.event
    return PointRecord(
        sample.run_id,
        sample.seq,
        event.at,
        event.type,
        *event.readings.values(),
        json.dumps(event.metrics) if event.metrics else None,
        event.message,
        event.exit_code,
    )


def alert_record(alert: Alert) -> AlertRecord:
    return AlertRecord(alert.id, alert.state, alert.to_dict())
