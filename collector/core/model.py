"""The domain model: jobs, their runs, and the events that change them.

Pure: nothing here reads a clock, sleeps, or touches the disk or network. Every
function that depends on time takes `now` (unix seconds) as an argument, and a
job's status is derived from stored timestamps, never stored twice.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from batchgate.rules.declarations import Declaration
from batchgate.rules.facts import Readings, unheard_after

Labels = tuple[tuple[str, str], ...]
"""A grouping key's labels, sorted by name: hashable and canonical."""

RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
LOST: Final = "lost"
QUEUED: Final = "queued"
RETRYING: Final = "retrying"
WAITING_STATUSES: Final = (QUEUED, RETRYING)
"""Runs in flight that wait for a worker: queued before their first attempt, retrying
between two attempts. Never lost or stuck: the queue rules judge how long they wait."""

RUN_STATUSES: Final = (QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED, CANCELLED, LOST)
FINISHED_STATUSES: Final = (SUCCEEDED, FAILED, CANCELLED, LOST)
LATE: Final = "late"
JOB_STATUSES: Final = (
    RUNNING, QUEUED, SUCCEEDED, FAILED, CANCELLED, "stuck", LATE, LOST, "unknown"
)  # fmt: skip

BATCH: Final = "batch"
PUSHGATEWAY: Final = "pushgateway"
OTLP: Final = "otlp"
"""Job kinds: a job that pushes its runs, or a Pushgateway group seen as a job, or an OTLP
resource's group seen as a job."""
GROUP_KINDS: Final = frozenset({PUSHGATEWAY, OTLP})
"""The kinds of a pushed group seen as a job: no runs, judged by its last push."""

QUEUE_STATE: Final = "queue_state"
"""A broker's snapshot of a queue (how many wait, are delayed, run; paused): no job's event."""
EVENT_TYPES: Final = (
    "queued", "start", "progress", "retry", "success", "fail", "cancel", QUEUE_STATE
)  # fmt: skip
FINISHING_EVENTS: Final = {"success": SUCCEEDED, "fail": FAILED, "cancel": CANCELLED}

DURATION_BUCKETS: Final = (
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0,
    86400.0,
)  # fmt: skip
"""Upper bounds of `batchgate_job_duration_seconds`: batch jobs take seconds to a day."""

WAIT_BUCKETS: Final = (
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0,
)  # fmt: skip
"""Upper bounds of `batchgate_job_wait_seconds`: a task waits from a blink to a day."""
MAX_ATTEMPTS_KEPT: Final = 32
"""Attempts a run keeps (the newest): a task retried forever must not grow its run forever."""
ATTEMPT_MESSAGE_LIMIT: Final = 512
"""An attempt keeps this many characters of its message (the run keeps the whole last one)."""


class JobKey(NamedTuple):
    """A job's identity: its name plus its grouping labels, as in the Pushgateway."""

    name: str
    labels: Labels = ()

    @classmethod
    def of(cls, name: str, labels: dict[str, str] | None = None) -> JobKey:
        return cls(name, tuple(sorted(labels.items())) if labels else ())

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(slots=True)
class Event:
    """One validated event pushed by a client. Times are unix seconds."""

    job: JobKey
    type: str
    at: float
    """When it happened: the client's timestamp, or the time it was received."""
    run_id: str | None = None
    event_id: str | None = None
    readings: Readings = field(default_factory=Readings)
    metrics: dict[str, float] | None = None
    message: str | None = None
    exit_code: int | None = None
    duration: float | None = None
    lost_after: float | None = None
    queue: str | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    snapshot: QueueSnapshot | None = None
    """What a `queue_state` event says of its queue (that event has no job: `job` is empty)."""
    declaration: Declaration | None = None
    """The schedule and limits the job declares with this event (issue 21), if any."""
    worker: Worker | None = None
    """The worker process the event comes from (a task queue's worker), if it says."""


class Worker(NamedTuple):
    """The worker process that runs an attempt: its name as its framework gives it (Celery's
    `celery@web-1`), and its process id; None where the event did not say."""

    hostname: str | None = None
    pid: int | None = None


class QueueSnapshot(NamedTuple):
    """A broker's view of a queue at one time; None where it did not say."""

    waiting: int | None = None
    delayed: int | None = None
    active: int | None = None
    paused: bool | None = None


class Attempt(NamedTuple):
    """One attempt of a run: from its start to its end (None while it goes on), and how it
    ended: `retry`, or the run's final status."""

    number: int
    started_at: float
    ended_at: float | None = None
    outcome: str | None = None
    message: str | None = None
    worker: Worker | None = None
    """The worker that ran it, as its start said."""


@dataclass(slots=True, eq=False)
class Run:
    """One execution of a job. Mutated only by `apply_event` and `mark_lost`."""

    run_id: str
    job: JobKey
    status: str
    started_at: float
    last_event_at: float
    last_progress_at: float
    """Last time `done` or `percent` moved (or the start): what `stuck` is measured from."""
    finished_at: float | None = None
    readings: Readings = field(default_factory=Readings)
    """What it last reported of its progress and resource use (each reading's newest)."""
    metrics: dict[str, float] = field(default_factory=dict)
    message: str | None = None
    exit_code: int | None = None
    lost_after: float | None = None
    """This run's own silence limit in seconds; None means the configured default."""
    samples: int = 0
    """How many timeline samples this run has produced (the next sample's sequence number)."""
    sample_level: int = 0
    """Timeline thinning level: only samples whose number is a multiple of 2**level are kept."""
    last_sample_at: float = -math.inf
    untimed: bool = False
    """Reported only as finished, with no start and no duration: how long it took is unknown."""
    deaf: tuple[float, float] = (0.0, 0.0)
    """When this server could not hear its jobs (`State.deaf`: from the last thing it heard
    before it went down to its start again). While the server was down the job's events
    could not arrive (the SDK keeps them and sends them later), so that time is not counted
    as the run's silence (lost, stuck); the rules reckon it the same way."""
    queue: str | None = None
    """The queue the run went through, if it names one."""
    queued_at: float | None = None
    """When it was queued, if a `queued` event said so. `started_at` is then the queueing
    time too (a run's rows are ordered by it), and the run began with its first attempt."""
    attempt: int | None = None
    """The number of its current (or last) attempt, once an attempt began or a client
    numbered one."""
    max_attempts: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    """Its attempts, oldest first (at most MAX_ATTEMPTS_KEPT, the newest), for a run that
    was queued or retried; empty for a run that simply started."""
    worker: Worker | None = None
    """The worker that runs (or ran) its current or last attempt, as its events said."""
    encoded_attempts: tuple[list[Attempt], str] | None = field(default=None, repr=False)
    """The attempts as last encoded for the store, and their text (`storage.store`): a
    queued run's progress is written many times between two changes of its attempts."""

    @property
    def began_at(self) -> float | None:
        """When the run's work began: its first attempt's start, or its start; None for a
        queued run that has not started."""
        if self.attempts:
            return self.attempts[0].started_at
        return None if self.queued_at is not None else self.started_at

    @property
    def wait_seconds(self) -> float | None:
        """How long it waited in its queue before its first attempt, when both are known."""
        if self.queued_at is None or not self.attempts:
            return None
        return max(0.0, self.attempts[0].started_at - self.queued_at)

    @property
    def duration(self) -> float | None:
        began = self.began_at
        if self.finished_at is None or self.untimed or began is None:
            return None
        return max(0.0, self.finished_at - began)

    def progress_ratio(self) -> float | None:
        """How far along the run is, 0..1, from `percent` or else `done / total`."""
        return self.readings.progress_ratio()

    def is_lost(self, now: float, default_lost_after: float) -> bool:
        """A running run that has been silent for longer than its lost-after."""
        limit = self.lost_after if self.lost_after is not None else default_lost_after
        silent = now - self.last_event_at - unheard_after(self.deaf, self.last_event_at)
        return self.status == RUNNING and silent > limit

    @property
    def reports_progress(self) -> bool:
        """Whether the run ever said how far along it is (only such runs can be stuck)."""
        return self.readings.reports_progress

    def is_stuck(self, now: float, stuck_after: float) -> bool:
        """Running, reporting progress, and the progress has not moved for `stuck_after`.
        A run that only sends heartbeats is never stuck: nothing says it should move."""
        return (
            self.status == RUNNING
            and self.reports_progress
            and now - self.last_progress_at - unheard_after(self.deaf, self.last_progress_at)
            > stuck_after
        )

    def effective_status(self, now: float, default_lost_after: float) -> str:
        """The stored status, except that a silent running run already reads as lost."""
        return LOST if self.is_lost(now, default_lost_after) else self.status

    def summary(self) -> RunSummary:
        return RunSummary(
            self.run_id,
            self.status,
            self.started_at,
            self.finished_at,
            self.duration,
            self.readings.done,
        )


class RunSummary(NamedTuple):
    """What a job remembers of each of its recent finished runs (sparklines, rules)."""

    run_id: str
    status: str
    started_at: float
    finished_at: float | None
    duration: float | None
    done: float | None


EMPTY_RUNS: Final[dict[str, Run]] = {}
"""No runs: what a queue seen as a job holds of its own (never written to)."""


@dataclass(slots=True, eq=False)
class Job:
    """A job and what is known of it: its running runs, last run, counters and histogram."""

    key: JobKey
    id: int
    created_at: float
    kind: str = BATCH
    running: dict[str, Run] = field(default_factory=dict)
    waiting: dict[str, Run] = field(default_factory=dict)
    """Runs queued or retrying (WAITING_STATUSES): in flight, waiting for a worker."""
    last_run: Run | None = None
    """The most recently started run, running or finished."""
    last_finished: Run | None = None
    """The most recently finished run (its message and exit code are what alerts quote)."""
    recent: deque[RunSummary] = field(default_factory=lambda: deque(maxlen=32))
    """Recent finished runs, oldest first."""
    last_seen_at: float | None = None
    last_start_at: float | None = None
    last_success_at: float | None = None
    last_failure_at: float | None = None
    last_finished_at: float | None = None
    last_duration: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    """Finished runs by final status; monotonic, persisted, so they survive restarts."""
    duration_buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    """Non-cumulative counts per bucket of DURATION_BUCKETS; the +Inf bucket is the count."""
    duration_sum: float = 0.0
    duration_count: int = 0
    retries: int = 0
    """Attempts that ended in a retry; monotonic, persisted, as `counts` is."""
    wait_buckets: list[int] = field(default_factory=lambda: [0] * len(WAIT_BUCKETS))
    """Non-cumulative counts per bucket of WAIT_BUCKETS of queued runs' waits."""
    wait_sum: float = 0.0
    wait_count: int = 0
    generation: int = 0
    """Bumped on every change, so incremental consumers can skip jobs that did not change."""
    declaration: Declaration | None = None
    """The schedule and limits the job last declared itself, stored with the job."""
    late_since: float | None = None
    """When a `missed` rule says the job is late from (the scheduled start it missed; see
    `Missed.late_from`), set by the rules pass, in memory only: the first pass after a
    restart sets it again. The job is late from then while no run has started (no push
    came, for a group) since."""

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def labels(self) -> Labels:
        return self.key.labels

    def status(self, now: float, stuck_after: float, lost_after: float) -> str:
        """The job's derived status: running, stuck, late, succeeded, failed, cancelled, lost,
        unknown. Late (a scheduled run did not start) says more than how the last run ended;
        a run that goes on is running or stuck whatever the schedule. A Pushgateway group
        (kind `pushgateway` or `otlp`) is failed while its last push was refused."""
        if self.kind in GROUP_KINDS and not self.running and self.last_run is None:
            if self.late_since is not None and _late(self.late_since, now, self.last_seen_at):
                return LATE
            if self.last_failure_at is not None and self.last_failure_at >= (
                self.last_success_at or 0.0
            ):
                return FAILED
            return SUCCEEDED if self.last_success_at is not None else "unknown"
        live = [run for run in self.running.values() if not run.is_lost(now, lost_after)]
        if live:
            if any(run.is_stuck(now, stuck_after) for run in live):
                return "stuck"
            return RUNNING
        if self.late_since is not None and _late(self.late_since, now, self.last_start_at):
            return LATE
        if self.waiting:
            return QUEUED
        if self.running:
            return LOST
        if self.last_run is not None:
            return self.last_run.status
        return "unknown"

    def record_finish(self, run: Run) -> None:
        """Count a run that reached a final status into the job's counters and histogram."""
        status = run.status
        self.counts[status] = self.counts.get(status, 0) + 1
        finished_at = run.finished_at if run.finished_at is not None else run.last_event_at
        self.last_finished_at = max(self.last_finished_at or finished_at, finished_at)
        if status == SUCCEEDED:
            self.last_success_at = max(self.last_success_at or finished_at, finished_at)
        elif status in (FAILED, LOST):
            self.last_failure_at = max(self.last_failure_at or finished_at, finished_at)
        duration = run.duration
        if duration is not None and status != LOST:
            self.last_duration = duration
            self.duration_sum += duration
            self.duration_count += 1
            for index, bound in enumerate(DURATION_BUCKETS):
                if duration <= bound:
                    self.duration_buckets[index] += 1
                    break
        self.recent.append(run.summary())
        last = self.last_finished
        if last is None or (last.finished_at or 0.0) <= finished_at:
            self.last_finished = run

    def record_wait(self, seconds: float) -> None:
        """Count one queued run's wait before its first attempt."""
        self.wait_sum += seconds
        self.wait_count += 1
        for index, bound in enumerate(WAIT_BUCKETS):
            if seconds <= bound:
                self.wait_buckets[index] += 1
                break


def _late(since: float, now: float, started: float | None) -> bool:
    """Late since `since` (now past) with no run `started` (or push) since then. Checked
    only for a job whose `late_since` is set: `Job.status` is called for every job of a
    scan, and most are never late."""
    return since <= now and (started or 0.0) < since
