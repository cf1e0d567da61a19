"""What one OTLP group holds between exports: the series of its families of delta points.

Delta points are added to the series' value (that is how delta sums and histograms become
cumulative series), and a family of them keeps the series an export does not carry (an SDK
exports deltas only for the series that changed). Cumulative points and gauges replace
their family, as a Pushgateway POST does, and need nothing kept here. The values are
durable as the group's families are (the registry's snapshot); the times, which say what a
delta point has already counted, are kept beside them (`header`), so a restart neither
forgets a total nor counts a repeated export twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from batchgate.collector.otlp.points import (
    CUMULATIVE,
    DELTA,
    LAST,
    HistogramValue,
    Labels,
    Point,
    Rejected,
    SummaryValue,
    Value,
)
from batchgate.collector.pushgateway.aggregation import AggregateRule
from batchgate.collector.pushgateway.consistency import TIMESTAMP_FAMILIES
from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    TYPE_NAMES,
    Bucket,
    Histogram,
    Metric,
    MetricFamily,
    Quantile,
    Summary,
)
from batchgate.collector.pushgateway.model import Value as SampleValue

HEADER_VERSION = 1
CUMULATIVE_IN_AGGREGATE = (
    "a cumulative point cannot be added to an aggregating group (the running totals of many "
    "instances do not add up export by export): export with delta temporality"
)
EXPORTED_TYPES = frozenset({COUNTER, GAUGE, HISTOGRAM, SUMMARY})


@dataclass(slots=True)
class Series:
    value: Value
    how: str
    start_ns: int
    time_ns: int


@dataclass(slots=True)
class Family:
    type: int
    help: str | None
    series: dict[Labels, Series] = field(default_factory=dict)


@dataclass(slots=True)
class Merged:
    """An export merged into a copy of the group's families: what to store, what not."""

    families: dict[str, Family]
    points: dict[str, int]
    """Points of the export per family (to count them as rejected if the family is)."""
    rejected: list[Rejected]


class OtlpGroupState:
    """The series of one OTLP group (see the module's text)."""

    __slots__ = ("aggregate", "families")

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}
        self.aggregate = False
        """Whether the group adds up the exports of many instances (every family kept)."""

    def merge(self, points: Iterable[Point], aggregate: AggregateRule | None = None) -> Merged:
        """The export's points joined to the group's series, without changing the group
        (`commit` does, for the families that were stored). With `aggregate`, the group
        adds up the exports of many instances: delta points are added, gauges follow the
        rule, and cumulative points, which cannot be added, are refused."""
        working: dict[str, Family] = {}
        counts: dict[str, int] = {}
        rejected: list[Rejected] = []
        for point in points:
            if aggregate is not None and point.how == CUMULATIVE:
                rejected.append(Rejected(1, f"{point.source}: {CUMULATIVE_IN_AGGREGATE}"))
                continue
            family = working.get(point.family)
            if family is None:
                stored = self.families.get(point.family)
                keep = point.how == DELTA or aggregate is not None
                if keep and stored is not None and stored.type == point.type:
                    # Deltas come only for the series that changed: keep the others.
                    family = Family(stored.type, point.help, dict(stored.series))
                else:
                    # Cumulative points and gauges come for every series of their
                    # instrument: the family is replaced, as a Pushgateway POST replaces it
                    # (other groups' types are checked on storing).
                    family = Family(point.type, point.help)
                working[point.family] = family
            elif family.type != point.type:
                rejected.append(
                    Rejected(
                        1,
                        f"{point.source}: {point.family} is a {TYPE_NAMES[point.type]} here "
                        f"and a {TYPE_NAMES[family.type]} elsewhere in this export",
                    )
                )
                continue
            if point.help:
                family.help = point.help
            if aggregate is not None:
                problem = _add_up(family.series, point, aggregate)
            else:
                problem = _join(family.series, point)
            if problem is not None:
                rejected.append(Rejected(1, f"{point.source}: {problem}"))
                continue
            counts[point.family] = counts.get(point.family, 0) + 1
        return Merged({name: working[name] for name in counts}, counts, rejected)

    def commit(self, merged: Merged, stored: Iterable[str], aggregate: bool = False) -> None:
        """Keep what the families the registry stored hold; only those with delta series
        need keeping (the others are replaced by their next export), or every family of an
        aggregating group (its gauges too are joined to what is stored)."""
        self.aggregate = self.aggregate or aggregate
        for name in stored:
            family = merged.families[name]
            if aggregate or any(series.how == DELTA for series in family.series.values()):
                self.families[name] = family
            else:
                self.families.pop(name, None)

    def header(self) -> str:
        """The delta series' times, as JSON (the values are in the group's families). Other
        series need none to be restored: their next point replaces them."""
        series = [
            [name, [list(pair) for pair in labels], one.start_ns, one.time_ns]
            for name, family in self.families.items()
            for labels, one in family.series.items()
            if one.how == DELTA
        ]
        data = {"v": HEADER_VERSION, "delta": series, "all": self.aggregate}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def restore(
        cls, header: str, families: Iterable[MetricFamily], grouping: Iterable[str]
    ) -> OtlpGroupState:
        """The state of a group from its header and its stored families (as the registry
        gives them back): `grouping` names the labels the group added to every series."""
        data = json.loads(header)
        if data.get("v") != HEADER_VERSION:
            raise ValueError(f"unknown OTLP group header version {data.get('v')!r}")
        deltas: dict[tuple[str, Labels], tuple[int, int]] = {
            (name, tuple((k, v) for k, v in labels)): (int(start), int(time))
            for name, labels, start, time in data["delta"]
        }
        added = {*grouping, "instance"}
        state = cls()
        every = state.aggregate = bool(data.get("all", False))
        for family in families:
            if family.name in TIMESTAMP_FAMILIES or family.type not in EXPORTED_TYPES:
                continue
            kept = Family(family.type, family.help)
            for metric in family.metrics:
                labels = tuple(sorted(pair for pair in metric.labels if pair[0] not in added))
                times = deltas.get((family.name, labels))
                if times is not None:
                    kept.series[labels] = Series(_value_of(metric, family.type), DELTA, *times)
                elif every:
                    kept.series[labels] = Series(_value_of(metric, family.type), LAST, 0, 0)
            if kept.series:
                state.families[family.name] = kept
        return state


def families_of(merged: Merged) -> dict[str, MetricFamily]:
    """The merged families as the registry stores them (every series of each)."""
    return {
        name: MetricFamily(
            name,
            family.help,
            family.type,
            [_metric(labels, family.type, one.value) for labels, one in family.series.items()],
        )
        for name, family in merged.families.items()
    }


def _join(series: dict[Labels, Series], point: Point) -> str | None:
    """Put `point` into `series`; the reason it cannot be, or None."""
    old = series.get(point.labels)
    if point.how == DELTA:
        if old is None or old.how != DELTA:
            series[point.labels] = Series(point.value, DELTA, point.start_ns, point.time_ns)
            return None
        if point.start_ns < old.time_ns:
            return (
                f"a delta point for {_labels_text(point.labels)} starts at "
                f"{point.start_ns} ns, before {old.time_ns} ns, up to which the series has "
                "already counted (a repeated export?)"
            )
        total = _added(old.value, point.value)
        if isinstance(total, str):
            return total
        series[point.labels] = Series(total, DELTA, old.start_ns, point.time_ns)
        return None
    if old is not None and point.time_ns < old.time_ns:
        return (
            f"the point for {_labels_text(point.labels)} at {point.time_ns} ns is older than "
            f"the stored one at {old.time_ns} ns"
        )
    series[point.labels] = Series(point.value, point.how, point.start_ns, point.time_ns)
    return None


def _add_up(series: dict[Labels, Series], point: Point, rule: AggregateRule) -> str | None:
    """Put a delta point or a gauge of one of many instances into an aggregating group's
    `series`: deltas added (without the overlap check: instances' intervals overlap),
    gauges by the rule. The reason it cannot be, or None."""
    old = series.get(point.labels)
    if old is None:
        series[point.labels] = Series(point.value, point.how, point.start_ns, point.time_ns)
        return None
    if point.how == DELTA or rule.gauges == "sum":
        total = _added(old.value, point.value)
    elif rule.gauges == "max" and isinstance(old.value, float) and isinstance(point.value, float):
        total = max(old.value, point.value)
    else:
        total = point.value
    if isinstance(total, str):
        return total
    series[point.labels] = Series(total, point.how, old.start_ns, max(old.time_ns, point.time_ns))
    return None


def _added(old: Value, new: Value) -> Value | str:
    if isinstance(old, HistogramValue) and isinstance(new, HistogramValue):
        if old.bounds != new.bounds:
            return (
                f"a delta histogram's bounds {list(new.bounds)} differ from the stored "
                f"series' {list(old.bounds)}"
            )
        return old.plus(new)
    if isinstance(old, float) and isinstance(new, float):
        return old + new
    return "a delta point's kind differs from the stored series'"


def _labels_text(labels: Labels) -> str:
    return "{" + ",".join(f'{name}="{value}"' for name, value in labels) + "}"


def _metric(labels: Labels, family_type: int, value: Value) -> Metric:
    metric = Metric(labels=list(labels))
    if isinstance(value, HistogramValue):
        buckets = []
        running = 0
        for bound, count in zip(value.bounds, value.counts, strict=False):
            running += count
            buckets.append(Bucket(cumulative_count=running, upper_bound=bound))
        buckets.append(Bucket(cumulative_count=value.count, upper_bound=float("inf")))
        metric.histogram = Histogram(
            sample_count=value.count, sample_sum=value.sum, buckets=buckets
        )
    elif isinstance(value, SummaryValue):
        metric.summary = Summary(
            sample_count=value.count,
            sample_sum=value.sum,
            quantiles=[Quantile(q, v) for q, v in value.quantiles],
        )
    elif family_type == COUNTER:
        metric.counter = SampleValue(value)
    else:
        metric.gauge = SampleValue(value)
    return metric


def _value_of(metric: Metric, family_type: int) -> Value:
    if family_type == HISTOGRAM and metric.histogram is not None:
        histogram = metric.histogram
        bounds = []
        counts = []
        previous = 0
        for bucket in histogram.buckets:
            cumulative = bucket.cumulative_count or 0
            if bucket.upper_bound == float("inf"):
                continue
            bounds.append(bucket.upper_bound or 0.0)
            counts.append(cumulative - previous)
            previous = cumulative
        count = histogram.sample_count or 0
        counts.append(count - previous)
        return HistogramValue(tuple(bounds), tuple(counts), count, histogram.sample_sum)
    if family_type == SUMMARY and metric.summary is not None:
        summary = metric.summary
        return SummaryValue(
            summary.sample_count or 0,
            summary.sample_sum or 0.0,
            tuple((q.quantile or 0.0, q.value or 0.0) for q in summary.quantiles),
        )
    sample = metric.counter if family_type == COUNTER else metric.gauge
    return float(sample.value or 0.0) if sample is not None else 0.0


__all__ = ["Family", "Merged", "OtlpGroupState", "Series", "families_of"]
