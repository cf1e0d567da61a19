"""The registry's pushes that merge into what a group holds instead of replacing it: a POST
to an aggregating group (`pushgateway.aggregate`: its values added to the stored ones,
`aggregation.py`) and an OTLP export's families (`apply_each`: each stored or refused on its
own, for OTLP's partial success).

`MergingPushes` is a part of `GroupRegistry` (registry.py), which holds the groups, the
index and the checks these call; it is pure as the registry is.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from operator import add, attrgetter
from typing import TYPE_CHECKING, Final

from batchgate.collector.pushgateway.aggregation import (
    AggregateRule,
    aggregate_rule,
    aggregated,
)
from batchgate.collector.pushgateway.consistency import (
    TIMESTAMP_ERROR,
    TIMESTAMP_FAMILIES,
    PushCheck,
    Reserved,
    has_timestamps,
)
from batchgate.collector.pushgateway.delimited_protobuf import parse_delimited
from batchgate.collector.pushgateway.errors import InconsistentPushError
from batchgate.collector.pushgateway.goformat import format_sample_value, format_sample_values
from batchgate.collector.pushgateway.group import Group, PushResult, StoredFamily
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.model import COUNTER, MetricFamily
from batchgate.collector.pushgateway.same_shape import (
    AddedUp,
    BodyShape,
    ValueSlots,
    group_of,
    value_slots,
)
from batchgate.collector.pushgateway.series_index import SeriesIndex
from batchgate.collector.pushgateway.text_parser import TextBody, read_text

_TYPE_OF: Final = attrgetter("type")
_NOT_NEGATIVE: Final = (0.0).__le__


class MergingPushes:
    """Aggregating POSTs and OTLP exports, as `GroupRegistry` methods."""

    aggregate: tuple[AggregateRule, ...]
    max_series_per_group: int
    _groups: dict[GroupingKey, Group]
    _index: SeriesIndex
    _reserved: Reserved

    if TYPE_CHECKING:  # GroupRegistry's own, which these call (registry.py)

        def apply(
            self,
            key: GroupingKey,
            families: Mapping[str, MetricFamily],
            *,
            replace: bool,
            now: float,
        ) -> PushResult: ...

        def group_families(self, key: GroupingKey) -> list[tuple[MetricFamily, float]]: ...

        def _check(
            self,
            key: GroupingKey,
            group: Group | None,
            pushed: list[MetricFamily],
            replace: bool,
            now: float,
        ) -> tuple[set[str], PushCheck]: ...

        def _store(
            self,
            key: GroupingKey,
            group: Group | None,
            removed: set[str],
            check: PushCheck,
            now: float,
        ) -> PushResult: ...

        def _refuse(
            self, key: GroupingKey, group: Group | None, errors: list[str], now: float
        ) -> InconsistentPushError: ...

        def _set_push_time(self, group: Group, now: float) -> None: ...

        def _set_failure_time(self, group: Group, now: float) -> None: ...

        def _remember_shape(
            self,
            key: GroupingKey,
            text: TextBody,
            data: bytes,
            held: Mapping[str, StoredFamily],
            result: PushResult,
        ) -> None: ...

    # Aggregating groups.

    def aggregating(self, key: GroupingKey) -> AggregateRule | None:
        """The rule by which the group adds up what is pushed to it, or None."""
        return self.aggregating_job(dict(key)["job"])

    def aggregating_job(self, job: str) -> AggregateRule | None:
        """The rule by which the groups of `job` add up what is pushed to them, or None."""
        if not self.aggregate:
            return None
        return aggregate_rule(self.aggregate, job)

    def _add(
        self,
        key: GroupingKey,
        families: Mapping[str, MetricFamily],
        rule: AggregateRule,
        now: float,
    ) -> PushResult:
        """A POST to an aggregating group: the pushed families added to the stored ones."""
        group = self._groups.get(key)
        if has_timestamps(families.values()):
            raise self._refuse(key, group, [TIMESTAMP_ERROR], now)
        pushed = {name: f for name, f in families.items() if name not in TIMESTAMP_FAMILIES}
        stored = {}
        if group is not None:
            stored = {
                family.name: family
                for family, _ in self.group_families(key)
                if family.name in pushed
            }
        sums, errors = aggregated(stored, pushed, key, rule)
        if errors:
            raise self._refuse(key, group, errors, now)
        return self.apply(key, sums, replace=False, now=now)

    def _push_adding(
        self,
        key: GroupingKey,
        data: bytes,
        stream_error: str | None,
        protobuf: bool,
        rule: AggregateRule,
        now: float,
    ) -> PushResult:
        """A POST to an aggregating group: the same-shape path when it can, else `_add`."""
        if protobuf:
            return self._add(key, parse_delimited(data, stream_error), rule, now)
        group = self._groups.get(key)
        if stream_error is None and group is not None and group.shape is not None:
            result = self._add_same_shape(group, group.shape, data, rule, now)
            if result is not None:
                return result
        text = read_text(data, stream_error)
        held = dict(group.families) if group is not None else {}
        result = self._add(key, text.families, rule, now)
        if stream_error is None:
            # As for a replacing push; `body_shape` also declines when the group holds
            # series of these families that the body does not carry.
            self._remember_shape(key, text, data, held, result)
        return result

    def _add_same_shape(
        self, group: Group, shape: BodyShape, data: bytes, rule: AggregateRule, now: float
    ) -> PushResult | None:
        """The group's last text body with new values, to add up: each value added to its
        series' stored one (gauges by the rule). None (nothing changed) for any other body,
        or a value the full path must refuse."""
        if group.series > self.max_series_per_group:
            return None
        values = shape.new_values(data)
        if values is None:
            return None
        kinds = list(map(_TYPE_OF, shape.entries))
        if not all(map(_NOT_NEGATIVE, values)):  # False for NaN too
            for kind, new in zip(kinds, values, strict=True):
                if kind == COUNTER and not new >= 0:
                    return None  # the full path says why
        # Each step is done for every value at once (map, C loops): Python work per value
        # is what made an aggregating push cost more than a replacing one.
        stored = shape.stored_blocks()
        old: Sequence[float] | None = None
        if group.added_up is not None:
            old = group.added_up.values(stored)
        if old is None:
            old = shape.stored_values(stored)
        totals = _totals(kinds, old, values, rule)
        blocks = shape.with_values(stored, format_sample_values(totals))
        shape.store(blocks)
        group.added_up = AddedUp(blocks, array("d", totals))
        for family, entry in zip(shape.families, shape.family_entries, strict=True):
            family.pushed_at = now
            entry.show_help(family.help)
        self._set_push_time(group, now)
        self._index.changed()
        return PushResult(group.key, False, group.series)

    # OTLP exports.

    def apply_each(
        self, key: GroupingKey, families: Mapping[str, MetricFamily], now: float
    ) -> tuple[PushResult | None, dict[str, list[str]]]:
        """Store, as a POST does, each family that passes the checks, and refuse the others
        by name (OTLP's partial success): the result (None if nothing was stored) and the
        refused families' errors. A refusal sets the group's failure time, as a POST's does.

        Families that pass alone but clash with each other raise InconsistentPushError
        (nothing stored); too many series raise PushTooLargeError."""
        group = self._groups.get(key)
        refused: dict[str, list[str]] = {}
        if not any(name in TIMESTAMP_FAMILIES for name in families):
            # The usual export passes: one check of all its families, as a push's.
            removed, check = self._check(key, group, list(families.values()), False, now)
            if not check.errors:
                return self._store(key, group, removed, check, now), refused
        for family in families.values():
            if family.name in TIMESTAMP_FAMILIES:
                refused[family.name] = [f"{family.name} is the group's own push time"]
                continue
            removed = (
                {family.name} if group is not None and family.name in group.families else set()
            )
            check = PushCheck(self._index, self._reserved, key, removed)
            check.add_family(family)
            if check.errors:
                refused[family.name] = check.errors
        passed = {name: family for name, family in families.items() if name not in refused}
        if not passed:
            if refused:
                self._refuse(key, group, [], now)
            return None, refused
        result = self.apply(key, passed, replace=False, now=now)
        if refused:
            self._set_failure_time(self._groups[key], now)
            self._index.changed()
        return result, refused

    def value_slots(self, key: GroupingKey, series: Sequence[tuple[str, int]]) -> ValueSlots | None:
        """Where the group's `series` are stored (each a family's name and the series'
        position in it, in push order), for `rewrite_values`; None if the group is gone or
        one of them cannot be rewritten so (`same_shape.value_slots`)."""
        group = self._groups.get(key)
        return value_slots(group, series, self._index) if group is not None else None

    def rewrite_values(
        self, slots: ValueSlots, values: Sequence[float | None], now: float
    ) -> PushResult | None:
        """New values written into the series of `slots` (None: the value stays), their
        families marked pushed at `now`, as a POST of exactly those series ends, without
        its checks (`same_shape` says why none is needed). None, and nothing changed, when
        the group's families changed since `slots` were found, or a value is `-0` (the
        full path keeps such a family exactly)."""
        group = group_of(slots, self._groups)
        if group is None or group.series > self.max_series_per_group:
            return None
        blocks = []
        for value, entry, slot, length in zip(
            values, slots.entries, slots.slots, slots.prefix_lengths, strict=True
        ):
            if value is None:
                continue
            if value == 0 and math.copysign(1.0, value) < 0:
                return None
            blocks.append(
                (entry, slot, f"{entry.blocks[slot][:length]}{format_sample_value(value)}\n")
            )
        for entry, slot, block in blocks:
            entry.set_block(slot, block)
        for family, entry in zip(slots.families, slots.family_entries, strict=True):
            family.pushed_at = now
            entry.show_help(family.help)  # Another group may have shown its HELP meanwhile.
        self._set_push_time(group, now)
        self._index.changed()
        return PushResult(group.key, False, group.series)


def _totals(
    kinds: list[int], old: Sequence[float], new: Sequence[float], rule: AggregateRule
) -> list[float]:
    """Each series' value after an aggregating push of `new` (by `aggregation`'s rules)."""
    if rule.gauges == "sum" or kinds.count(COUNTER) == len(kinds):
        return list(map(add, old, new))
    totals = []
    for kind, before, value in zip(kinds, old, new, strict=True):
        if kind == COUNTER:
            totals.append(before + value)
        elif rule.gauges == "last":
            totals.append(value)
        else:
            totals.append(max(before, value))
    return totals
