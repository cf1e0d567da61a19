"""The fast path for the usual export: the group's last export again, with new values.

A batch job or a service exports the same metrics every time: the same resource, scopes,
metrics (names, units, descriptions, types, temporality) and data points' attributes, in
the same order; only the values and timestamps change. When a resource of an export is,
apart from its number points' values and times, exactly what its group's last export
carried (`repeats` reads it and compares digests), its points become exactly the series
that export stored, so translating them again (names, labels, sanitising) and checking
them against the registry would find the same: the series are written with their new
values (`GroupRegistry.rewrite_values`; pushgateway/same_shape.py says why no check is
needed for a group's own series). What depends on the values is still decided point by
point as the full path decides it, from the same rules:

- a monotonic sum's value must not be negative or NaN;
- a delta point is added to its series' total (the group's `OtlpGroupState`), and must
  not start before the time up to which the series has counted;
- in an aggregating group, delta points are added and gauges follow the rule.

Whenever one of these would refuse a point, or anything is not as the shape expects (the
group's families changed since, a series' total is not there, a value is `-0`), the
resource takes the full path, which refuses what it must with its reason: the fast path
never refuses. A shape is kept only after a full-path export of one resource that stored
every point (no refusal, no point without a value), of gauges and sums only (histograms
and summaries always take the full path), with each series once; and only when the export
created the group or repeated the digest of the group's last export, so a group whose
label values change with every export pays nothing for shapes it would never use.
tests/collector/otlp/test_same_shape_exports.py holds the fast path to the full path's
results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from batchgate.collector.otlp.json_text import JsonTexts
from batchgate.collector.otlp.points import DELTA, LAST, Labels, Point, Reading
from batchgate.collector.otlp.series import Merged, OtlpGroupState, Series
from batchgate.collector.otlp.translate import ResourceBatch
from batchgate.collector.pushgateway.aggregation import AggregateRule
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.model import COUNTER, GAUGE
from batchgate.collector.pushgateway.same_shape import ValueSlots

COUNTER_POINT: Final = 1
"""A monotonic sum's point: refused if negative or NaN."""
JOINED_POINT: Final = 2
"""A point joined to its series' kept total (a delta, or any point of an aggregating
group), not replacing it."""
DELTA_POINT: Final = 4
"""A delta point (else a gauge's or a cumulative one)."""


@dataclass(frozen=True, slots=True)
class ExportShape:
    """A resource's export, as stored for its group: its points' series and slots."""

    digest: bytes
    key: GroupingKey
    rule: AggregateRule | None
    kinds: bytes
    """What each point read from an export (`Reading`) is, in order: COUNTER_POINT,
    JOINED_POINT and DELTA_POINT added up. Bytes, not objects: a shape is kept for every
    series of a group that repeats its exports."""
    joined: tuple[tuple[str, Labels], ...]
    """The family and labels of each JOINED_POINT, in order (the labels are the tuples its
    group's `OtlpGroupState` holds as well)."""
    slots: ValueSlots
    """Where each point's series is stored, then the `target_info` series if any (its
    value, always 1, is left as it is)."""


@dataclass(slots=True)
class Repeat:
    """A resource of an export that is its group's last shape with new values."""

    shape: ExportShape
    reading: Reading
    translate: Callable[[], ResourceBatch]
    """The resource translated, for the full path (when a value needs it)."""

    @property
    def key(self) -> GroupingKey:
        return self.shape.key

    @property
    def points(self) -> int:
        return len(self.shape.slots.slots)


class ExportShapes:
    """The shape of each group's last export, by its digest (at most one per group)."""

    __slots__ = ("_last", "_shapes", "json_texts")

    def __init__(self) -> None:
        self._shapes: dict[bytes, ExportShape] = {}
        self._last: dict[GroupingKey, bytes] = {}
        """Each group's last export's digest (kept or not)."""
        self.json_texts = JsonTexts()
        """JSON bodies of kept shapes, cut at their values (`json_text`)."""

    def get(self, digest: bytes) -> ExportShape | None:
        return self._shapes.get(digest)

    def __len__(self) -> int:
        return len(self._shapes)

    def forget(self, key: GroupingKey) -> None:
        digest = self._last.pop(key, None)
        if digest is not None:
            self._drop(digest)

    def _drop(self, digest: bytes) -> None:
        self._shapes.pop(digest, None)
        self.json_texts.forget(digest)

    def clear(self) -> None:
        self._shapes.clear()
        self._last.clear()
        self.json_texts.clear()

    def stored(
        self,
        batch: ResourceBatch,
        merged: Merged,
        created: bool,
        slots_of: Callable[[Sequence[tuple[str, int]]], ValueSlots | None],
    ) -> None:
        """A full-path export of `batch` stored every point `merged` holds (nothing was
        refused): keep its shape if it is worth it (see the module's text). `slots_of`
        finds where the group stores series (`GroupRegistry.value_slots`)."""
        reading = batch.reading
        key = batch.key
        last = self._last.get(key)
        if reading is None:
            self.forget(key)
            return
        if last is not None and last != reading.digest:
            self._drop(last)
        self._last[key] = reading.digest
        if not created and last != reading.digest:
            return
        shape = _shape(batch, reading, merged, slots_of)
        if shape is None:
            self._drop(reading.digest)
        else:
            self._shapes[reading.digest] = shape


def _shape(
    batch: ResourceBatch,
    reading: Reading,
    merged: Merged,
    slots_of: Callable[[Sequence[tuple[str, int]]], ValueSlots | None],
) -> ExportShape | None:
    read = batch.points[:-1] if batch.target_info else batch.points
    if batch.rejected or batch.ignored or len(read) != len(reading.values):
        return None
    positions: dict[str, dict[Labels, int]] = {}
    hows: dict[str, str] = {}
    seen: set[tuple[str, Labels]] = set()
    series: list[tuple[str, int]] = []
    for point in batch.points:
        if point.type not in (COUNTER, GAUGE) or not isinstance(point.value, float):
            return None
        if hows.setdefault(point.family, point.how) != point.how:
            return None  # One family, points of two temporalities: the full path.
        if (point.family, point.labels) in seen:
            return None  # A series twice in the export: the full path.
        seen.add((point.family, point.labels))
        family = merged.families.get(point.family)
        if family is None:
            return None
        in_family = positions.get(point.family)
        if in_family is None:
            in_family = positions[point.family] = {
                labels: position for position, labels in enumerate(family.series)
            }
        series.append((point.family, in_family[point.labels]))
    slots = slots_of(series)
    if slots is None:
        return None
    kinds = bytes([_kind(point, batch.aggregate is not None) for point in read])
    joined = tuple(
        [
            (point.family, point.labels)
            for point, kind in zip(read, kinds, strict=True)
            if kind & JOINED_POINT
        ]
    )
    return ExportShape(reading.digest, batch.key, batch.aggregate, kinds, joined, slots)


def _kind(point: Point, aggregating: bool) -> int:
    kind = COUNTER_POINT if point.type == COUNTER else 0
    if point.how == DELTA:
        kind |= DELTA_POINT | JOINED_POINT
    elif aggregating:
        kind |= JOINED_POINT
    return kind


def new_values(
    repeat: Repeat, state: OtlpGroupState
) -> tuple[list[float | None], list[tuple[dict[Labels, Series], Labels, Series]]] | None:
    """The values to store for each series of the repeat's shape (None: left as it is),
    and the series totals to keep in `state`; None when a point needs the full path."""
    shape, reading = repeat.shape, repeat.reading
    rule = shape.rule
    families = state.families
    values: list[float | None] = []
    totals: list[tuple[dict[Labels, Series], Labels, Series]] = []
    joined = iter(shape.joined)
    points = zip(shape.kinds, reading.values, reading.starts, reading.times, strict=True)
    for kind, value, start, time in points:
        if kind & COUNTER_POINT and not value >= 0:
            return None  # negative or NaN: the full path refuses it
        if not kind & JOINED_POINT:
            values.append(value)  # a gauge or cumulative point replaces its series
            continue
        name, labels = next(joined)
        family = families.get(name)
        if family is None:
            return None
        old = family.series.get(labels)
        if old is None or not isinstance(old.value, float):
            return None
        if rule is None:
            if old.how != DELTA or start < old.time_ns:
                return None  # counted already: the full path says so
            total = old.value + value
            kept = Series(total, DELTA, old.start_ns, time)
        else:
            if kind & DELTA_POINT or rule.gauges == "sum":
                total = old.value + value
            elif rule.gauges == "max":
                total = max(old.value, value)
            else:
                total = value
            how = DELTA if kind & DELTA_POINT else LAST
            kept = Series(total, how, old.start_ns, max(old.time_ns, time))
        totals.append((family.series, labels, kept))
        values.append(total)
    values.extend([None] * (len(shape.slots.slots) - len(values)))
    return values, totals


def keep_totals(totals: Sequence[tuple[dict[Labels, Series], Labels, Series]]) -> None:
    """Keep what `new_values` computed, once the values are stored."""
    for series, labels, total in totals:
        series[labels] = total


__all__ = ["ExportShape", "ExportShapes", "Repeat", "keep_totals", "new_values"]
