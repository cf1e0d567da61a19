"""Kinds about how runs ended: failure, consecutive_failures and failure_rate.

They read the job's recent finished runs (newest last). A run whose status is neither
`succeeded` nor one of the rule's failure `statuses` (by default `failed` and `lost`) is
neutral: a cancelled run neither breaks nor extends a streak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from batchgate.rules.facts import FAILED, LOST, SUCCEEDED, JobFacts, RunSummaryFacts
from batchgate.rules.kinds.base import (
    INFINITY,
    NO_CONDITIONS,
    Condition,
    Context,
    last_finished,
    run_facts,
)
from batchgate.rules.yaml_reader import Fields

FAILURE_STATUSES: Final = ("failed", "lost", "cancelled")
DEFAULT_FAILURE_STATUSES: Final = frozenset({FAILED, LOST})


def _parse_statuses(fields: Fields) -> frozenset[str] | None:
    """The optional `statuses:` key; None with an error when it is invalid."""
    node = fields.take("statuses")
    if node is None:
        return DEFAULT_FAILURE_STATUSES
    values = fields.reader.strings(node, "statuses")
    if values is None:
        return None
    unknown = [value for value in values if value not in FAILURE_STATUSES]
    if unknown:
        fields.reader.error(
            node,
            f"statuses: {', '.join(map(repr, unknown))} not one of {', '.join(FAILURE_STATUSES)}",
        )
        return None
    return frozenset(values)


def _outcome(job: JobFacts, summary: RunSummaryFacts) -> str | None:
    """The run's final status; None for a lost run that has since reported again (it runs)."""
    status = summary.status
    if status == LOST and summary.run_id in job.running:
        return None
    return status


def _finished(summary: RunSummaryFacts) -> float:
    return summary.finished_at if summary.finished_at is not None else summary.started_at


@dataclass(frozen=True, slots=True)
class Failure:
    """The job's last (non-neutral) finished run failed. Per job: it resolves on a success."""

    name: ClassVar[str] = "failure"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("statuses",)

    statuses: frozenset[str] = DEFAULT_FAILURE_STATUSES

    @classmethod
    def parse(cls, fields: Fields) -> Failure | None:
        statuses = _parse_statuses(fields)
        return None if statuses is None else cls(statuses)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        latest: RunSummaryFacts | None = None
        first: RunSummaryFacts | None = None
        failures = 0
        for summary in reversed(job.recent):
            status = _outcome(job, summary)
            if status in self.statuses:
                latest = latest or summary
                first = summary
                failures += 1
            elif status == SUCCEEDED:
                break
        if latest is None or first is None:
            return NO_CONDITIONS, INFINITY
        since = _finished(first)
        return (Condition(None, run_facts(job, latest), float(failures), since, since),), INFINITY


@dataclass(frozen=True, slots=True)
class ConsecutiveFailures:
    """`count` failed runs in a row; once firing, it resolves only after `resolve_after`
    successful runs in a row. Decided from history alone, so a restart does not change it."""

    name: ClassVar[str] = "consecutive_failures"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("count", "resolve_after", "statuses")

    count: int
    resolve_after: int = 1
    statuses: frozenset[str] = DEFAULT_FAILURE_STATUSES

    @classmethod
    def parse(cls, fields: Fields) -> ConsecutiveFailures | None:
        reader = fields.reader
        node = fields.require("count")
        count = None if node is None else reader.integer(node, "count", minimum=1, maximum=30)
        resolve_after = fields.read(
            "resolve_after", lambda n, w: reader.integer(n, w, minimum=1, maximum=30)
        )
        statuses = _parse_statuses(fields)
        if (
            count is None
            or statuses is None
            or ("resolve_after" in fields and resolve_after is None)
        ):
            return None
        return cls(count, resolve_after or 1, statuses)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        # Newest first, neutral runs left out. Walk back streak by streak: a success streak of
        # resolve_after ends any episode (inactive); a failure streak of count starts an episode
        # that nothing newer has ended (active).
        outcomes = [
            summary
            for summary in reversed(job.recent)
            if _outcome(job, summary) == SUCCEEDED or _outcome(job, summary) in self.statuses
        ]
        index = failures = 0
        while index < len(outcomes):
            succeeded = outcomes[index].status == SUCCEEDED
            end = index
            while end < len(outcomes) and (outcomes[end].status == SUCCEEDED) == succeeded:
                end += 1
            length = end - index
            if succeeded and length >= self.resolve_after:
                return NO_CONDITIONS, INFINITY
            if not succeeded:
                failures += length
                if length >= self.count:
                    streak = outcomes[index:end]  # newest first
                    trigger = streak[length - self.count]  # the count-th failure, oldest first
                    latest = next(s for s in outcomes if s.status != SUCCEEDED)
                    condition = Condition(
                        None,
                        run_facts(job, latest),
                        float(failures),
                        _finished(trigger),
                        _finished(streak[-1]),
                    )
                    return (condition,), INFINITY
            index = end
        return NO_CONDITIONS, INFINITY


@dataclass(frozen=True, slots=True)
class FailureRate:
    """The share of failed runs is above `above`, over the runs that finished within `window`
    or over the last `over_last` runs, once at least `min_runs` runs count."""

    name: ClassVar[str] = "failure_rate"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("above", "window", "over_last", "min_runs", "statuses")

    above: float
    window: float | None
    over_last: int | None
    min_runs: int = 5
    statuses: frozenset[str] = DEFAULT_FAILURE_STATUSES

    @classmethod
    def parse(cls, fields: Fields) -> FailureRate | None:
        reader = fields.reader
        node = fields.require("above")
        above = None if node is None else reader.ratio(node, "above")
        window = fields.read("window", reader.positive_duration)
        over_last = fields.read(
            "over_last", lambda n, w: reader.integer(n, w, minimum=1, maximum=1000)
        )
        min_runs = fields.read(
            "min_runs", lambda n, w: reader.integer(n, w, minimum=1, maximum=1000)
        )
        statuses = _parse_statuses(fields)
        if ("window" in fields) == ("over_last" in fields):
            reader.error(fields.node, "failure_rate: give exactly one of 'window' or 'over_last'")
            return None
        if above is None or statuses is None or (window is None and over_last is None):
            return None
        return cls(above, window, over_last, min_runs or 5, statuses)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        total = failures = 0
        oldest_counted: float | None = None
        start = now - self.window if self.window is not None else None
        limit = self.over_last
        for summary in reversed(job.recent):
            status = _outcome(job, summary)
            failed = status in self.statuses
            if not failed and status != SUCCEEDED:
                continue
            if start is not None:
                finished = _finished(summary)
                if finished <= start:
                    break
                oldest_counted = (
                    finished if oldest_counted is None else min(oldest_counted, finished)
                )
            total += 1
            failures += failed
            if limit is not None and total >= limit:
                break
        deadline = (
            oldest_counted + self.window
            if oldest_counted is not None and self.window is not None
            else INFINITY
        )
        if total < self.min_runs or failures / total <= self.above:
            return NO_CONDITIONS, deadline
        last = last_finished(job)
        run = run_facts(job, last) if last is not None else None
        return (Condition(None, run, failures / total, None),), deadline
