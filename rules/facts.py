"""What the rules engine reads of jobs and runs: Protocols, and a run's `Readings`.

The collector's own `Job`, `Run` and `RunSummary` objects satisfy these structurally, so the
collector passes them straight in: the engine never copies a job, and never imports the
collector. Every attribute here is read-only to the engine. Times are unix seconds.
`Readings` is the one value object for what a run reports of its progress and resource
use, which the collector's events and runs carry and its stores write a column each of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol

Labels = tuple[tuple[str, str], ...]
"""A job's grouping labels, sorted by name."""

JobKeyTuple = tuple[str, Labels]
"""A job's identity: (name, sorted labels). The collector's `JobKey` is such a tuple."""

RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
LOST: Final = "lost"
BATCH: Final = "batch"
PUSHGATEWAY: Final = "pushgateway"
OTLP: Final = "otlp"
GROUP_KINDS: Final = frozenset({PUSHGATEWAY, OTLP})
"""The kinds of a pushed group seen as a job (a Pushgateway group, an OTLP resource's): it
has no runs, and its last push is its last sign of life."""
QUEUE: Final = "queue"
"""The kind of a queue seen as a job by the rules: the queue kinds judge these alone, and the
other kinds never do (see `QueueFacts`)."""


class RunSummaryFacts(Protocol):
    """One finished run as a job remembers it (the collector's `RunSummary`)."""

    @property
    def run_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def finished_at(self) -> float | None: ...
    @property
    def duration(self) -> float | None: ...


def unheard_after(deaf: tuple[float, float], moment: float) -> float:
    """How much of the time since `moment` falls in `deaf`, the time the collector could not
    hear its jobs (from the last event it had heard before it went down to its start again):
    time that is not a job's silence."""
    down, up = deaf
    return max(0.0, up - max(down, moment))


_Reading = float | None
ReadingValues = tuple[
    _Reading, _Reading, _Reading, _Reading, _Reading, _Reading, _Reading, _Reading
]
"""The eight readings, in `Readings.FIELDS` order."""


@dataclass(slots=True)
class Readings:
    """What a run reports of its progress and of its resource use: carried by each event,
    kept by its run (newest values), written by the stores a column each, in this order."""

    percent: float | None = None
    done: float | None = None
    total: float | None = None
    errors: float | None = None
    cpu_percent: float | None = None
    memory_bytes: float | None = None
    io_read_bytes: float | None = None
    io_write_bytes: float | None = None

    PROGRESS: ClassVar = ("percent", "done", "total", "errors")
    """The readings of `progress` in a push."""
    RESOURCES: ClassVar = ("cpu_percent", "memory_bytes", "io_read_bytes", "io_write_bytes")
    """The readings of `resources` in a push, and the metrics a `resource` rule may watch."""
    FIELDS: ClassVar = PROGRESS + RESOURCES

    def update(self, newer: Readings) -> bool:
        """Take every reading `newer` has; True when progress (`done` or `percent`) moved."""
        moved = (newer.done is not None and newer.done != self.done) or (
            newer.percent is not None and newer.percent != self.percent
        )
        for name in self.FIELDS:
            value = getattr(newer, name)
            if value is not None:
                setattr(self, name, value)
        return moved

    def values(self) -> ReadingValues:
        """The readings in `FIELDS` order (the stores' column order)."""
        return (
            self.percent,
            self.done,
            self.total,
            self.errors,
            self.cpu_percent,
            self.memory_bytes,
            self.io_read_bytes,
            self.io_write_bytes,
        )

    @property
    def reports_progress(self) -> bool:
        """Whether it says how far along the run is (`done` or `percent`)."""
        return self.done is not None or self.percent is not None

    def progress_ratio(self) -> float | None:
        """How far along the run is, 0..1, from `percent` or else `done / total`."""
        if self.percent is not None:
            return min(1.0, self.percent / 100.0)
        if self.done is not None and self.total:
            return min(1.0, self.done / self.total)
        return None


class RunFacts(Protocol):
    """One run, running or finished (the collector's `Run`)."""

    @property
    def run_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def last_event_at(self) -> float: ...
    @property
    def last_progress_at(self) -> float: ...
    @property
    def finished_at(self) -> float | None: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def readings(self) -> Readings: ...
    @property
    def metrics(self) -> Mapping[str, float]: ...
    @property
    def lost_after(self) -> float | None: ...


class JobFacts(Protocol):
    """A job or Pushgateway group (the collector's `Job`).

    `generation` must change whenever anything else here changes: the engine skips a job whose
    generation it has already evaluated until one of its own deadlines passes.
    """

    @property
    def key(self) -> JobKeyTuple: ...
    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Labels: ...
    @property
    def kind(self) -> str: ...
    @property
    def running(self) -> Mapping[str, RunFacts]: ...
    @property
    def last_run(self) -> RunFacts | None: ...
    @property
    def last_finished(self) -> RunFacts | None:
        """The most recently finished run, whole (readings and metrics): what `outcome` judges."""
        ...

    @property
    def recent(self) -> Sequence[RunSummaryFacts]:
        """Recent finished runs, oldest first."""
        ...

    @property
    def created_at(self) -> float: ...
    @property
    def last_seen_at(self) -> float | None: ...
    @property
    def last_start_at(self) -> float | None: ...
    @property
    def last_success_at(self) -> float | None: ...
    @property
    def generation(self) -> int: ...


class QueueFacts(JobFacts, Protocol):
    """A queue as the queue kinds (`wait_time`, `backlog`, `stalled`, `retry_rate`) read it:
    a job of kind QUEUE, named as the queue, labelled `queue`, with no runs of its own (the
    collector's `Queue`). Windows reach back a day at most."""

    @property
    def waiting_count(self) -> int:
        """Runs waiting in it now (queued, or retrying between two attempts)."""
        ...

    def depth(self, now: float) -> tuple[int, float]:
        """Tasks waiting (a broker's count while its snapshot is fresh, else the runs'), and
        until when that holds if nothing changes."""
        ...

    def oldest_waiting_since(self) -> float | None:
        """Since when the longest waiting run waits; None when none does."""
        ...

    @property
    def last_finished_at(self) -> float | None:
        """When a run of the queue last finished (since the server started)."""
        ...

    def waits_since(self, since: float) -> list[float]:
        """The waits (before their first attempt) of the runs finished since `since`."""
        ...

    def finished_and_retried_since(self, since: float) -> tuple[int, int]:
        """Runs finished, and attempts retried, since `since` (to the minute)."""
        ...
