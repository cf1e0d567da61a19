"""Aggregating groups: pushes to a group whose job matches a rule add up instead of replacing.

Many short-lived workers (serverless functions, the pods of a parallel job) each push their
counters to one group; the Pushgateway would keep only the last push. For a job that matches
an `AggregateRule`, a POST adds each pushed counter, histogram (its buckets, count and sum)
and summary (its count and sum; quantiles are the last pushed, as they cannot be added) to
the stored series of the same labels, and treats gauges by the rule's policy (`last`, `sum`
or `max`). The sums are the group's stored values, so they are as durable as any group and
restored with it. A PUT replaces the group as always; a DELETE resets it.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from batchgate.collector.pushgateway.consistency import sanitize_labels
from batchgate.collector.pushgateway.exposition import render_labels
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    TYPE_NAMES,
    UNTYPED,
    Bucket,
    Histogram,
    Metric,
    MetricFamily,
    Summary,
    Value,
)

GAUGE_POLICIES: Final = ("last", "sum", "max")


@dataclass(frozen=True, slots=True)
class AggregateRule:
    """Groups whose job matches `job_pattern` (a shell glob) add up what is pushed to them."""

    job_pattern: str
    counters: str = "sum"
    histograms: str = "sum"
    gauges: str = "last"
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.counters != "sum" or self.histograms != "sum":
            raise ValueError("counters and histograms can only be summed (sum)")
        if self.gauges not in GAUGE_POLICIES:
            raise ValueError(f"gauges must be one of {', '.join(GAUGE_POLICIES)}")
        object.__setattr__(self, "_regex", re.compile(fnmatch.translate(self.job_pattern)))

    def matches(self, job: str) -> bool:
        return self._regex.fullmatch(job) is not None

    def as_json(self) -> dict[str, str]:
        return {"counters": self.counters, "histograms": self.histograms, "gauges": self.gauges}


def aggregate_rule(rules: Sequence[AggregateRule], job: str) -> AggregateRule | None:
    """The first rule whose pattern matches `job`, or None (the group replaces)."""
    for rule in rules:
        if rule.matches(job):
            return rule
    return None


def aggregated(
    stored: Mapping[str, MetricFamily],
    pushed: Mapping[str, MetricFamily],
    grouping: GroupingKey,
    rule: AggregateRule,
) -> tuple[dict[str, MetricFamily], list[str]]:
    """The pushed families added to the stored ones (every series of each), and the reasons
    the push cannot be added (nothing then is). `stored` holds the group's families as the
    registry gives them back (labels sanitised)."""
    result: dict[str, MetricFamily] = {}
    errors: list[str] = []
    for name, family in pushed.items():
        family_type = family.type_or_default
        old = stored.get(name)
        if old is not None and old.type_or_default != family_type:
            errors.append(
                f"aggregating group: {name} is stored as a {TYPE_NAMES[old.type_or_default]} "
                f"and was pushed as a {TYPE_NAMES[family_type]}; DELETE the group to change it"
            )
            continue
        series: dict[tuple[tuple[str, str], ...], Metric] = {}
        if old is not None:
            series.update((tuple(metric.labels), metric) for metric in old.metrics)
        for metric in family.metrics:
            metric.labels = sanitize_labels(metric.labels, grouping)
            labels = tuple(metric.labels)
            problem = _backwards(name, family_type, metric)
            if problem is not None:
                errors.append(problem)
                continue
            before = series.get(labels)
            if before is None:
                series[labels] = metric
                continue
            added = _added(name, family_type, before, metric, rule)
            if isinstance(added, str):
                errors.append(added)
            else:
                series[labels] = added
        result[name] = MetricFamily(name, family.help, family.type, list(series.values()))
    return result, errors


def _series_text(name: str, metric: Metric) -> str:
    return f"{name}{{{render_labels(metric.labels)}}}"


def _backwards(name: str, family_type: int, metric: Metric) -> str | None:
    """Why the pushed series would make a sum go backwards, or None."""
    values: list[float | None] = []
    if family_type == COUNTER and metric.counter is not None:
        values = [metric.counter.value]
    elif family_type == HISTOGRAM and metric.histogram is not None:
        histogram = metric.histogram
        values = [histogram.sample_count, *(b.cumulative_count for b in histogram.buckets)]
    elif family_type == SUMMARY and metric.summary is not None:
        values = [metric.summary.sample_count]
    for value in values:
        if value is not None and (value < 0 or math.isnan(value)):
            return (
                f"aggregating group: {_series_text(name, metric)} was pushed with {value}; "
                "what an aggregating group adds up cannot go backwards"
            )
    return None


def _added(
    name: str, family_type: int, before: Metric, pushed: Metric, rule: AggregateRule
) -> Metric | str:
    if family_type == COUNTER:
        return _scalar(pushed, (_value(before.counter) + _value(pushed.counter)), "counter")
    if family_type in (GAUGE, UNTYPED):
        holder = "gauge" if family_type == GAUGE else "untyped"
        old, new = _value(getattr(before, holder)), _value(getattr(pushed, holder))
        if rule.gauges == "sum":
            return _scalar(pushed, old + new, holder)
        if rule.gauges == "max":
            return _scalar(pushed, max(old, new), holder)
        return pushed
    if family_type == HISTOGRAM and before.histogram and pushed.histogram:
        old_histogram, new_histogram = before.histogram, pushed.histogram
        old_bounds = [b.upper_bound for b in old_histogram.buckets if b.upper_bound != math.inf]
        new_bounds = [b.upper_bound for b in new_histogram.buckets if b.upper_bound != math.inf]
        if old_bounds != new_bounds:
            return (
                f"aggregating group: {_series_text(name, pushed)} has buckets {new_bounds}, "
                f"the stored series {old_bounds}; DELETE the group to change them"
            )
        old_counts = {b.upper_bound: b.cumulative_count or 0 for b in old_histogram.buckets}
        buckets = [
            Bucket(
                cumulative_count=old_counts.get(b.upper_bound, 0) + (b.cumulative_count or 0),
                upper_bound=b.upper_bound,
            )
            for b in new_histogram.buckets
        ]
        return Metric(
            labels=pushed.labels,
            histogram=Histogram(
                sample_count=(old_histogram.sample_count or 0) + (new_histogram.sample_count or 0),
                sample_sum=(old_histogram.sample_sum or 0.0) + (new_histogram.sample_sum or 0.0),
                buckets=buckets,
            ),
        )
    if family_type == SUMMARY and before.summary and pushed.summary:
        old_summary, new_summary = before.summary, pushed.summary
        return Metric(
            labels=pushed.labels,
            summary=Summary(
                sample_count=(old_summary.sample_count or 0) + (new_summary.sample_count or 0),
                sample_sum=(old_summary.sample_sum or 0.0) + (new_summary.sample_sum or 0.0),
                quantiles=new_summary.quantiles,
            ),
        )
    return pushed


def _value(holder: Value | None) -> float:
    return holder.value if holder is not None and holder.value is not None else 0.0


def _scalar(pushed: Metric, value: float, holder: str) -> Metric:
    metric = Metric(labels=pushed.labels)
    setattr(metric, holder, Value(value))
    return metric
