"""Kinds about runs while they run: duration, max_runtime, stuck, lost and resource."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from batchgate.rules.facts import (
    FAILED,
    LOST,
    RUNNING,
    SUCCEEDED,
    JobFacts,
    Readings,
    RunFacts,
    RunSummaryFacts,
    unheard_after,
)
from batchgate.rules.kinds.base import (
    INFINITY,
    NO_CONDITIONS,
    Condition,
    Context,
    is_lost,
    last_finished,
    lost_deadline,
    run_facts,
)
from batchgate.rules.yaml_reader import Fields

APPLIES_TO: Final = ("running", "last_finished", "both")
BUILTIN_METRICS: Final = Readings.RESOURCES
_BYTE_METRICS: Final = frozenset({"memory_bytes", "io_read_bytes", "io_write_bytes"})


def p95(values: list[float]) -> float:
    """The 95th percentile by the nearest-rank method (an observed value, never interpolated)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Duration:
    """A run longer than `above`, or than `above_p95_factor` x the p95 of the job's last
    `over_last` successful runs. Judges running runs and the last finished run (`applies_to`)."""

    name: ClassVar[str] = "duration"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = (
        "above",
        "above_p95_factor",
        "over_last",
        "min_runs",
        "applies_to",
    )

    above: float | None
    factor: float | None
    over_last: int = 20
    min_runs: int = 5
    applies_to: str = "both"

    @classmethod
    def parse(cls, fields: Fields) -> Duration | None:
        reader = fields.reader
        above = fields.read("above", reader.positive_duration)
        factor = fields.read("above_p95_factor", lambda n, w: reader.number(n, w, minimum=0))
        over_last = fields.read(
            "over_last", lambda n, w: reader.integer(n, w, minimum=1, maximum=1000)
        )
        min_runs = fields.read(
            "min_runs", lambda n, w: reader.integer(n, w, minimum=1, maximum=1000)
        )
        applies_to = fields.read("applies_to", lambda n, w: reader.choice(n, w, APPLIES_TO))
        has_above, has_factor = "above" in fields, "above_p95_factor" in fields
        if has_above == has_factor:
            reader.error(fields.node, "duration: give exactly one of 'above' or 'above_p95_factor'")
            return None
        if has_above and ("over_last" in fields or "min_runs" in fields):
            reader.error(
                fields.node, "duration: 'over_last' and 'min_runs' go with 'above_p95_factor'"
            )
            return None
        if (has_above and above is None) or (has_factor and factor is None):
            return None
        over = over_last or 20
        minimum = min_runs or min(5, over)
        if minimum > over:
            reader.error(fields.node, "duration: 'min_runs' cannot exceed 'over_last'")
            return None
        return cls(above, factor, over, minimum, applies_to or "both")

    def _limit(self, job: JobFacts, judged: str | None) -> float | None:
        """The limit for a run: `above`, or the factor times the p95 of the last `over_last`
        successful runs before the `judged` one (None: not enough history to judge)."""
        if self.above is not None:
            return self.above
        assert self.factor is not None
        durations: list[float] = []
        for summary in reversed(job.recent):
            if summary.run_id == judged:
                continue
            if summary.status == SUCCEEDED and summary.duration is not None:
                durations.append(summary.duration)
                if len(durations) == self.over_last:
                    break
        if len(durations) < self.min_runs:
            return None
        return self.factor * p95(durations)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        conditions: list[Condition] = []
        deadline = INFINITY
        if self.applies_to != "last_finished" and job.running:
            limit = self._limit(job, None)
            if limit is not None:
                for run in job.running.values():
                    if run.status != RUNNING:
                        continue
                    end = run.started_at + limit
                    if now >= end:
                        conditions.append(
                            Condition(run.run_id, run, now - run.started_at, end, run.started_at)
                        )
                    elif end < deadline:
                        deadline = end
        last = last_finished(job) if self.applies_to != "running" else None
        if (
            last is not None
            and last.status in (SUCCEEDED, FAILED)
            and last.duration is not None
            and last.finished_at is not None
        ):
            limit = self._limit(job, last.run_id)
            if limit is not None and last.duration >= limit:
                conditions.append(
                    Condition(
                        last.run_id,
                        run_facts(job, last),
                        last.duration,
                        last.started_at + limit,
                        last.started_at,
                        last.finished_at,
                    )
                )
        return conditions or NO_CONDITIONS, deadline


@dataclass(frozen=True, slots=True)
class MaxRuntime:
    """A running run that has been running for at least `above` (a hard limit on runs)."""

    name: ClassVar[str] = "max_runtime"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = ("above",)

    above: float

    @classmethod
    def parse(cls, fields: Fields) -> MaxRuntime | None:
        node = fields.require("above")
        above = None if node is None else fields.reader.positive_duration(node, "above")
        return None if above is None else cls(above)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        conditions: list[Condition] = []
        deadline = INFINITY
        for run in job.running.values():
            if run.status != RUNNING:
                continue
            end = run.started_at + self.above
            if now >= end:
                conditions.append(
                    Condition(run.run_id, run, now - run.started_at, end, run.started_at)
                )
            elif end < deadline:
                deadline = end
        return conditions or NO_CONDITIONS, deadline


@dataclass(frozen=True, slots=True)
class Stuck:
    """A running run whose progress has not moved for at least `no_progress_for`.

    A lost run is not stuck (the `lost` kind names it). By default only runs that have reported
    progress at least once are judged: a run that never reports progress cannot be stuck.
    """

    name: ClassVar[str] = "stuck"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = ("no_progress_for", "require_progress")

    no_progress_for: float
    require_progress: bool = True

    @classmethod
    def parse(cls, fields: Fields) -> Stuck | None:
        reader = fields.reader
        node = fields.require("no_progress_for")
        limit = None if node is None else reader.positive_duration(node, "no_progress_for")
        require = fields.read("require_progress", reader.boolean)
        return None if limit is None else cls(limit, True if require is None else require)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        conditions: list[Condition] = []
        deadline = INFINITY
        for run in job.running.values():
            if run.status != RUNNING:
                continue
            if self.require_progress and not run.readings.reports_progress:
                continue
            lost_at = lost_deadline(run, context)
            if now > lost_at:
                continue
            deadline = min(deadline, lost_at)
            progress_at = run.last_progress_at
            stuck_at = progress_at + unheard_after(context.deaf, progress_at) + self.no_progress_for
            if now >= stuck_at:
                conditions.append(
                    Condition(
                        run.run_id, run, now - run.last_progress_at, stuck_at, run.last_progress_at
                    )
                )
            elif stuck_at < deadline:
                deadline = stuck_at
        return conditions or NO_CONDITIONS, deadline


@dataclass(frozen=True, slots=True)
class Lost:
    """A job with a lost run: a running run silent for longer than its lost-after (the
    collector's setting), or a last finished run whose status is `lost` (the collector marked
    it). Per job: it resolves when a later run finishes otherwise, or the lost run reports
    again."""

    name: ClassVar[str] = "lost"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse(cls, fields: Fields) -> Lost | None:
        return cls()

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        deadline = INFINITY
        lost_runs: list[RunFacts] = []
        for run in job.running.values():
            if is_lost(run, now, context):
                lost_runs.append(run)
            elif run.status == RUNNING:
                deadline = min(deadline, lost_deadline(run, context))
        # (when it went silent, the run, when it counted as lost), for each lost run.
        lost: list[tuple[float, RunFacts | RunSummaryFacts, float]] = [
            (run.last_event_at, run, lost_deadline(run, context)) for run in lost_runs
        ]
        last = last_finished(job)
        if last is not None and last.status == LOST:
            # The collector marked it lost and ended it at its last sign of life.
            ended = last.finished_at if last.finished_at is not None else last.started_at
            lost.append((ended, run_facts(job, last), ended + context.default_lost_after))
        if not lost:
            return NO_CONDITIONS, deadline
        latest = max(lost, key=lambda entry: entry[0])[1]
        since = min(entry[0] for entry in lost)
        active_at = min(entry[2] for entry in lost)
        return (Condition(None, latest, float(len(lost)), active_at, since),), deadline


@dataclass(frozen=True, slots=True)
class Resource:
    """A running run whose `metric` (cpu_percent, memory_bytes, io_read_bytes, io_write_bytes or
    a custom metric name) is above `above`. Hold it with `for:` ("above for 10m")."""

    name: ClassVar[str] = "resource"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = ("metric", "above")

    metric: str
    above: float

    @classmethod
    def parse(cls, fields: Fields) -> Resource | None:
        reader = fields.reader
        metric_node = fields.require("metric")
        above_node = fields.require("above")
        metric = None if metric_node is None else reader.string(metric_node, "metric")
        if metric is None or above_node is None:
            return None
        if metric in _BYTE_METRICS:
            above = reader.size(above_node, "above")
        else:
            above = reader.number(above_node, "above")
        return None if above is None else cls(metric, above)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        conditions: list[Condition] = []
        builtin = self.metric in BUILTIN_METRICS
        for run in job.running.values():
            if run.status != RUNNING:
                continue
            value = getattr(run.readings, self.metric) if builtin else run.metrics.get(self.metric)
            if value is not None and value > self.above:
                conditions.append(Condition(run.run_id, run, float(value), None))
        return conditions or NO_CONDITIONS, INFINITY
