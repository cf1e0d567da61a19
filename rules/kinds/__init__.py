"""The kinds of rules, by the name written in YAML (`kind: stuck`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from batchgate.rules.fleets import Fleet
from batchgate.rules.kinds.assertions import Outcome
from batchgate.rules.kinds.base import INFINITY, NO_CONDITIONS, Condition, Context, Kind
from batchgate.rules.kinds.deadline import Deadline
from batchgate.rules.kinds.declared import DeclaredDeadline, DeclaredMaxRuntime, DeclaredMissed
from batchgate.rules.kinds.off_schedule import OffSchedule
from batchgate.rules.kinds.outcomes import ConsecutiveFailures, Failure, FailureRate
from batchgate.rules.kinds.queues import Backlog, RetryRate, Stalled, WaitTime
from batchgate.rules.kinds.runtime import Duration, Lost, MaxRuntime, Resource, Stuck
from batchgate.rules.kinds.schedule import Absent, Missed
from batchgate.rules.yaml_reader import Fields


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How to read a kind from YAML: its own keys, and the parser that builds it."""

    name: str
    per_run: bool
    keys: tuple[str, ...]
    parse: Callable[[Fields], Kind | None]


KINDS: Final = {
    cls.name: KindSpec(cls.name, cls.per_run, cls.keys, cls.parse)
    for cls in (
        Duration,
        MaxRuntime,
        Failure,
        ConsecutiveFailures,
        FailureRate,
        Stuck,
        Missed,
        Resource,
        Absent,
        Lost,
        Outcome,
        Deadline,
        OffSchedule,
        Fleet,
        WaitTime,
        Backlog,
        Stalled,
        RetryRate,
        DeclaredMissed,
        DeclaredDeadline,
        DeclaredMaxRuntime,
    )
}

__all__ = ["INFINITY", "KINDS", "NO_CONDITIONS", "Condition", "Context", "Kind", "KindSpec"]
