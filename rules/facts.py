"""What the rules engine reads of jobs and runs, as Protocols.

The collector's own `Job`, `Run` and `RunSummary` objects satisfy these structurally, so the
collector passes them straight in: the engine never copies a job, and never imports the
collector. Every attribute here is read-only to the engine. Times are unix seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

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
    def percent(self) -> float | None: ...
    @property
    def done(self) -> float | None: ...
    @property
    def cpu_percent(self) -> float | None: ...
    @property
    def memory_bytes(self) -> float | None: ...
    @property
    def io_read_bytes(self) -> float | None: ...
    @property
    def io_write_bytes(self) -> float | None: ...
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
