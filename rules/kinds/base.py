"""What every kind of rule shares: the condition it reports and the protocol it follows.

A kind is a small pure evaluator: given one job and `now`, it returns the conditions that hold
(none, one per job, or one per run) and the earliest time at which its verdict could change if
the job does not change (its deadline). The alert lifecycle (`for`, severity, notifications) is
not its business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol

from batchgate.rules.facts import LOST, RUNNING, JobFacts, RunFacts, RunSummaryFacts, unheard_after

INFINITY: Final = math.inf


class Condition:
    """One instance of a rule's condition holding for a job, or for one of its runs."""

    __slots__ = ("active_at", "detail", "run", "run_id", "since", "until", "value")

    def __init__(
        self,
        run_id: str | None,
        run: RunFacts | RunSummaryFacts | None,
        value: float,
        active_at: float | None,
        since: float | None = None,
        until: float | None = None,
        detail: str | None = None,
    ) -> None:
        self.run_id = run_id
        """The run this condition is about, for per-run kinds; None for per-job kinds."""
        self.run = run
        """The run shown to annotation templates as `run`: the Run when the job still holds it,
        else what the job remembers of it (its summary), or None."""
        self.value = value
        """The measured value: seconds, a count, a ratio, a metric."""
        self.active_at = active_at
        """When the condition began to hold, derived from the job's timestamps; None when the
        facts cannot tell (the alert then counts from the evaluation that first saw it)."""
        self.since = since
        """When the problem began, for severity tiers (`elapsed = now - since`); None: active_at."""
        self.until = until
        """When the problem ended if it is over (a finished slow run): elapsed stops there."""
        self.detail = detail
        """What exactly is wrong, for people (`duration 2s below 1m`), when the value alone
        does not say: the alert's `detail` annotation, and `detail` in its templates."""


NO_CONDITIONS: Final[tuple[Condition, ...]] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """What an evaluation needs beyond the job: the collector's default lost-after, and
    when it could not hear its jobs (`batchgate.rules.facts.unheard_after`)."""

    default_lost_after: float = 900.0
    deaf: tuple[float, float] = (0.0, 0.0)


class Kind(Protocol):
    """A kind of rule: `name` as written in YAML, and whether its alerts are per run."""

    name: ClassVar[str]
    per_run: ClassVar[bool]

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        """The conditions holding at `now`, and the deadline before which, if `job` does not
        change, the verdict cannot change (INFINITY when only a change of the job can)."""
        ...


def run_facts(job: JobFacts, summary: RunSummaryFacts) -> RunFacts | RunSummaryFacts:
    """The fullest view of a finished run: the job's last Run if it is that one, else the
    summary the job keeps of it."""
    last = job.last_run
    return last if last is not None and last.run_id == summary.run_id else summary


def last_finished(job: JobFacts) -> RunSummaryFacts | None:
    """The job's most recently finished run, unless it has come back to life (a lost run that
    reported again is running once more)."""
    recent = job.recent
    if not recent:
        return None
    summary = recent[-1]
    return None if summary.run_id in job.running else summary


def lost_deadline(run: RunFacts, context: Context) -> float:
    """When a running run that stays silent becomes lost (it is lost once `now` is past this)."""
    limit = run.lost_after if run.lost_after is not None else context.default_lost_after
    return run.last_event_at + unheard_after(context.deaf, run.last_event_at) + limit


def is_lost(run: RunFacts, now: float, context: Context) -> bool:
    """As the collector says: a lost run, or a running one silent for longer than lost-after."""
    if run.status == LOST:
        return True
    return run.status == RUNNING and now > lost_deadline(run, context)
