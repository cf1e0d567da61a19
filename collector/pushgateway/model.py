"""What one push carries: metric families as the Pushgateway's `dto.MetricFamily` holds them.

Both parsers (text and delimited protobuf) produce these, the consistency check reads them,
and the exposition renders them once into the text a scrape will join. Fields mirror
io.prometheus.client's proto2 messages, including "not set" (`None`), because the
Pushgateway's behaviour (and its error messages) depend on what was set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

COUNTER: Final = 0
GAUGE: Final = 1
SUMMARY: Final = 2
UNTYPED: Final = 3
HISTOGRAM: Final = 4
GAUGE_HISTOGRAM: Final = 5

TYPE_NAMES: Final = {
    COUNTER: "COUNTER",
    GAUGE: "GAUGE",
    SUMMARY: "SUMMARY",
    UNTYPED: "UNTYPED",
    HISTOGRAM: "HISTOGRAM",
    GAUGE_HISTOGRAM: "GAUGE_HISTOGRAM",
}
"""The `dto.MetricType` enum names, as Go prints them (`%s`) and the JSON API shows them."""

TYPE_KEYWORDS: Final = {number: name.lower() for number, name in TYPE_NAMES.items()}
"""The `# TYPE` keyword the text encoder writes per type."""

SUPPORTED_TYPES: Final = frozenset({COUNTER, GAUGE, SUMMARY, UNTYPED, HISTOGRAM})

LabelPairs = list[tuple[str, str]]


@dataclass(slots=True)
class Exemplar:
    labels: LabelPairs = field(default_factory=list)
    value: float | None = None
    timestamp: tuple[int | None, int | None] | None = None
    """google.protobuf.Timestamp as (seconds, nanos), each None when not set."""


@dataclass(slots=True)
class Quantile:
    quantile: float | None = None
    value: float | None = None


@dataclass(slots=True)
class Bucket:
    cumulative_count: int | None = None
    cumulative_count_float: float | None = None
    upper_bound: float | None = None
    exemplar: Exemplar | None = None


@dataclass(slots=True)
class Summary:
    sample_count: int | None = None
    sample_sum: float | None = None
    quantiles: list[Quantile] = field(default_factory=list)


@dataclass(slots=True)
class NativeHistogram:
    """Histogram fields 5-14 of client_model 0.3 (schema, zero bucket, spans, deltas, counts)."""

    schema: int | None = None
    zero_threshold: float | None = None
    zero_count: int | None = None
    zero_count_float: float | None = None
    negative_span: list[tuple[int | None, int | None]] = field(default_factory=list)
    negative_delta: list[int] = field(default_factory=list)
    negative_count: list[float] = field(default_factory=list)
    positive_span: list[tuple[int | None, int | None]] = field(default_factory=list)
    positive_delta: list[int] = field(default_factory=list)
    positive_count: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Histogram:
    sample_count: int | None = None
    sample_count_float: float | None = None
    sample_sum: float | None = None
    buckets: list[Bucket] = field(default_factory=list)
    native: NativeHistogram | None = None
    """Native-histogram fields: carried (error messages print them), never exposed.

    The text format 0.0.4 has no place for them; the Pushgateway 1.5 exposes a native
    histogram in text as its classic parts only (an implicit `+Inf` bucket, `_sum`, `_count`).
    """


@dataclass(slots=True)
class Value:
    """A counter, gauge or untyped message: its value and (counters only) an exemplar."""

    value: float | None = None
    exemplar: Exemplar | None = None


@dataclass(slots=True)
class Metric:
    labels: LabelPairs = field(default_factory=list)
    gauge: Value | None = None
    counter: Value | None = None
    summary: Summary | None = None
    untyped: Value | None = None
    histogram: Histogram | None = None
    timestamp_ms: int | None = None


@dataclass(slots=True)
class MetricFamily:
    name: str
    help: str | None = None
    type: int | None = None
    metrics: list[Metric] = field(default_factory=list)

    @property
    def type_or_default(self) -> int:
        """`GetType()`: an unset type reads as COUNTER, the enum's zero value."""
        return COUNTER if self.type is None else self.type


def value_field(metric: Metric, family_type: int) -> object | None:
    """The message a family of `family_type` must carry (`Gauge` for GAUGE, ...), or None."""
    if family_type == GAUGE:
        return metric.gauge
    if family_type == COUNTER:
        return metric.counter
    if family_type == UNTYPED:
        return metric.untyped
    if family_type == SUMMARY:
        return metric.summary
    if family_type in (HISTOGRAM, GAUGE_HISTOGRAM):
        return metric.histogram
    return None
