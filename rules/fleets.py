"""The `fleet` kind: every host (or region, shard, ...) of a job succeeded within a window.

A *fleet* is the jobs a rule matches that share a name and every grouping label but one, the
rule's `label` (`backup{host="db1"}`, `backup{host="db2"}`, ...); its *members* are that
label's values. The rule fires, once per fleet, when fewer than `at_least` members (by
default all of them) have a success within `window`, naming the missing ones.

A fleet is judged from what each member last said, kept here as members change: an event
costs its fleet, not every job, and a fleet is looked at again when one of its successes
leaves the window.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from batchgate.rules.durations import format_duration
from batchgate.rules.facts import GROUP_KINDS, JobFacts, JobKeyTuple
from batchgate.rules.kinds.base import INFINITY, NO_CONDITIONS, Condition, Context
from batchgate.rules.yaml_reader import Fields

ALL: Final = 0
"""`at_least: all` (every member seen)."""
_MISSING_NAMED: Final = 20
"""At most this many missing members are named in the detail; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Fleet:
    """At least `at_least` values of `label` (0: all seen) with a success within `window`."""

    name: ClassVar[str] = "fleet"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("label", "at_least", "window")

    label: str
    window: float
    at_least: int = ALL

    @classmethod
    def parse(cls, fields: Fields) -> Fleet | None:
        reader = fields.reader
        label_node = fields.require("label")
        label = None if label_node is None else reader.string(label_node, "label")
        window = fields.read("window", reader.positive_duration)
        if "window" not in fields:
            reader.error(fields.node, f"{fields.what}: missing required key 'window'")
        at_least = ALL
        node = fields.take("at_least")
        if node is not None and getattr(node, "value", None) != "all":
            value = reader.integer(node, "at_least", minimum=1, maximum=100_000)
            if value is None:
                return None
            at_least = value
        if label is None or window is None:
            return None
        return cls(label, window, at_least)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        """Nothing per job: the engine judges fleets (`Fleets`)."""
        return NO_CONDITIONS, INFINITY


@dataclass(frozen=True, slots=True)
class FleetKey:
    """What the book needs of a fleet to file its alert: the fleet's key (the job's name and
    labels but the rule's label)."""

    key: JobKeyTuple


class _Fleet:
    __slots__ = ("key", "members", "rule_index")

    def __init__(self, rule_index: int, key: JobKeyTuple) -> None:
        self.rule_index = rule_index
        self.key = key
        self.members: dict[str, float | None] = {}
        """Member value -> its last success (None: none yet)."""


class Fleets:
    """Every fleet of a rule set's `fleet` rules, with its members' last successes."""

    def __init__(self) -> None:
        self._fleets: dict[tuple[int, JobKeyTuple], _Fleet] = {}
        self._member_of: dict[tuple[int, JobKeyTuple], tuple[int, JobKeyTuple]] = {}
        self.dirty: set[tuple[int, JobKeyTuple]] = set()
        self._due: list[tuple[float, tuple[int, JobKeyTuple]]] = []
        """A heap of (when a success leaves a fleet's window, the fleet); stale entries (not
        in `_next`) are skipped, and the heap is rebuilt when they outnumber the fleets."""
        self._next: dict[tuple[int, JobKeyTuple], float] = {}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def alert_keys(self, rule_names: Sequence[str]) -> set[tuple[str, JobKeyTuple]]:
        """The (rule name, fleet key) of every fleet: their alerts are not orphans."""
        return {(rule_names[index], key) for index, key in self._fleets}

    def observe(self, rule_index: int, rule: Fleet, job: JobFacts) -> None:
        """Take a member's news (its job changed, or is seen for the first time)."""
        labels = dict(job.key[1])
        value = labels.pop(rule.label, "")
        if not value:
            return  # not a member of any fleet of this rule
        fleet_id = (rule_index, (job.key[0], tuple(sorted(labels.items()))))
        fleet = self._fleets.get(fleet_id)
        if fleet is None:
            fleet = self._fleets[fleet_id] = _Fleet(rule_index, fleet_id[1])
        success = job.last_seen_at if job.kind in GROUP_KINDS else job.last_success_at
        if value not in fleet.members or fleet.members[value] != success:
            fleet.members[value] = success
            self._member_of[(rule_index, job.key)] = fleet_id
            self.dirty.add(fleet_id)

    def forget(self, rule_index: int, job_key: JobKeyTuple, label: str) -> None:
        """A member's job was deleted."""
        fleet_id = self._member_of.pop((rule_index, job_key), None)
        fleet = self._fleets.get(fleet_id) if fleet_id is not None else None
        if fleet is None or fleet_id is None:
            return
        fleet.members.pop(dict(job_key[1]).get(label, ""), None)
        self.dirty.add(fleet_id)

    def due(self, now: float) -> set[tuple[int, JobKeyTuple]]:
        """The fleets to judge now: changed ones, and those a success has left the window of."""
        chosen = set(self.dirty)
        self.dirty.clear()
        while self._due and self._due[0][0] <= now:
            due, fleet_id = heapq.heappop(self._due)
            if self._next.get(fleet_id) == due:
                del self._next[fleet_id]
                chosen.add(fleet_id)
        return chosen

    def _look_again(self, fleet_id: tuple[int, JobKeyTuple], due: float | None) -> None:
        if due is None:
            self._next.pop(fleet_id, None)
            return
        if self._next.get(fleet_id) == due:
            return
        self._next[fleet_id] = due
        heapq.heappush(self._due, (due, fleet_id))
        if len(self._due) > 2 * len(self._next) + 64:
            self._due = [(when, key) for key, when in self._next.items()]
            heapq.heapify(self._due)

    def judge(
        self, fleet_id: tuple[int, JobKeyTuple], rule: Fleet, now: float
    ) -> tuple[FleetKey, tuple[Condition, ...]]:
        """The fleet's verdict now; schedules the next look when a success leaves the window."""
        fleet = self._fleets.get(fleet_id)
        if fleet is None or not fleet.members:
            self._fleets.pop(fleet_id, None)
            self._look_again(fleet_id, None)
            return FleetKey(fleet_id[1]), NO_CONDITIONS
        start = now - rule.window
        counted = {v: t for v, t in fleet.members.items() if t is not None and t > start}
        self._look_again(fleet_id, min(counted.values()) + rule.window if counted else None)
        needed = len(fleet.members) if rule.at_least == ALL else rule.at_least
        if len(counted) >= needed:
            return FleetKey(fleet.key), NO_CONDITIONS
        missing = sorted(v for v in fleet.members if v not in counted)
        named = ", ".join(missing[:_MISSING_NAMED])
        if len(missing) > _MISSING_NAMED:
            named += f" and {len(missing) - _MISSING_NAMED} more"
        detail = (
            f"{len(counted)} of {needed} {rule.label}s succeeded within "
            f"{format_duration(rule.window)}; missing: {named or 'none other seen'}"
        )
        condition = Condition(None, None, float(len(counted)), None, detail=detail)
        return FleetKey(fleet.key), (condition,)
