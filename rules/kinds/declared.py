"""Kinds that judge a job by the schedule it declared itself: `declared_missed`,
`declared_deadline` and `declared_max_runtime` (rules/declared_rules.yaml holds the rules of
them that are always on).

Each judges as `missed`, `deadline` (`finish_within`) or `max_runtime` would with the job's
own declaration, and judges nothing in a job that declared none. A declared rule yields to a
rule of the kind it stands for (`yields_to`) that matches the same job: a rule file says
otherwise for that job.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from batchgate.rules.declarations import Declaration
from batchgate.rules.facts import JobFacts
from batchgate.rules.kinds.base import INFINITY, NO_CONDITIONS, Condition, Context
from batchgate.rules.kinds.deadline import Deadline
from batchgate.rules.kinds.runtime import MaxRuntime
from batchgate.rules.kinds.schedule import CronTicks, Missed
from batchgate.rules.yaml_reader import Fields


def declaration_of(job: JobFacts) -> Declaration | None:
    """What the job declared. Not every JobFacts carries a declaration (a queue, a test's
    facts), so it is read as an optional attribute rather than required by the protocol."""
    declaration = getattr(job, "declaration", None)
    return declaration if isinstance(declaration, Declaration) else None


@functools.lru_cache(maxsize=1024)
def _missed(cron: str, timezone: str, grace: float) -> Missed:
    """One `missed` judge per distinct declared schedule: its CronTicks' window cache is
    shared by every job that declares the same schedule, as a rule's is."""
    return Missed(CronTicks(cron, ZoneInfo(timezone)), None, grace, timezone)


class _DeclaredSince:
    """The job's facts, created no earlier than its declaration: a scheduled time before a
    job declared its schedule is not a run it missed."""

    __slots__ = ("_job", "created_at")

    def __init__(self, job: JobFacts, declared_at: float) -> None:
        self._job = job
        self.created_at = max(job.created_at, declared_at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)


@dataclass(frozen=True, slots=True)
class DeclaredMissed:
    """`missed` by the job's declared schedule, time zone and grace."""

    name: ClassVar[str] = "declared_missed"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ()
    yields_to: ClassVar[str] = "missed"

    @classmethod
    def parse(cls, fields: Fields) -> DeclaredMissed | None:
        return cls()

    def missed_for(self, job: JobFacts) -> Missed | None:
        """The `missed` judge of the job's declared schedule; None if it declared none."""
        declaration = declaration_of(job)
        if declaration is None or declaration.cron is None:
            return None
        return _missed(declaration.cron, declaration.timezone, declaration.grace)

    def _judge(self, job: JobFacts) -> tuple[Missed, JobFacts] | None:
        judge = self.missed_for(job)
        if judge is None:
            return None
        declaration = declaration_of(job)
        assert declaration is not None
        facts: Any = _DeclaredSince(job, declaration.declared_at)
        return judge, facts

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        judged = self._judge(job)
        if judged is None:
            return NO_CONDITIONS, INFINITY
        return judged[0].evaluate(judged[1], now, context)

    def late_from(self, job: JobFacts, condition: Condition, context: Context) -> float:
        """As `Missed.late_from`, by the declared schedule."""
        judged = self._judge(job)
        assert judged is not None
        return judged[0].late_from(judged[1], condition, context)


@functools.lru_cache(maxsize=1024)
def _deadline(cron: str, timezone: str, within: float) -> Deadline:
    """One `deadline` judge per distinct declared schedule and `finish_within`."""
    return Deadline(CronTicks(cron, ZoneInfo(timezone)), within, None, timezone)


@dataclass(frozen=True, slots=True)
class DeclaredDeadline:
    """`deadline` with `finish_within`, by the job's declared schedule and `finish_within`."""

    name: ClassVar[str] = "declared_deadline"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ()
    yields_to: ClassVar[str] = "deadline"

    @classmethod
    def parse(cls, fields: Fields) -> DeclaredDeadline | None:
        return cls()

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        declaration = declaration_of(job)
        if declaration is None or declaration.cron is None or declaration.finish_within is None:
            return NO_CONDITIONS, INFINITY
        judge = _deadline(declaration.cron, declaration.timezone, declaration.finish_within)
        facts: Any = _DeclaredSince(job, declaration.declared_at)
        return judge.evaluate(facts, now, context)


@dataclass(frozen=True, slots=True)
class DeclaredMaxRuntime:
    """`max_runtime` by the job's declared max runtime."""

    name: ClassVar[str] = "declared_max_runtime"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = ()
    yields_to: ClassVar[str] = "max_runtime"

    @classmethod
    def parse(cls, fields: Fields) -> DeclaredMaxRuntime | None:
        return cls()

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        declaration = declaration_of(job)
        if declaration is None or declaration.max_runtime is None:
            return NO_CONDITIONS, INFINITY
        return MaxRuntime(declaration.max_runtime).evaluate(job, now, context)
