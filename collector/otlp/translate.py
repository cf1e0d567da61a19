"""ExportMetricsServiceRequest -> per resource, its grouping key and translated points.

As the OpenTelemetry specification's Prometheus compatibility section and Prometheus' own
OTLP receiver have it: `job` is `service.name` (`service.namespace/service.name` when there
is a namespace), `instance` is `service.instance.id`; the resource's other attributes go to
one `target_info` series; each point's attributes become labels, with the instrumentation
scope's name and version as `otel_scope_name` and `otel_scope_version`. A point that cannot
be translated is counted as rejected with its reason, never dropped silently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
)

from batchgate.collector.otlp.names import attribute_text, label_name, labels_from, metric_name
from batchgate.collector.otlp.points import (
    CUMULATIVE,
    DELTA,
    LAST,
    HistogramValue,
    Point,
    Reading,
    Rejected,
    SummaryValue,
)
from batchgate.collector.pushgateway.aggregation import AggregateRule
from batchgate.collector.pushgateway.model import COUNTER, GAUGE, HISTOGRAM, SUMMARY

SERVICE_NAME: Final = "service.name"
SERVICE_NAMESPACE: Final = "service.namespace"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
UNKNOWN_SERVICE: Final = "unknown_service"
"""The job of a resource without `service.name`, the SDKs' own default."""

TARGET_INFO: Final = "target_info"
TARGET_INFO_HELP: Final = "Target metadata"

NO_RECORDED_VALUE: Final = 1
"""DataPointFlags.FLAG_NO_RECORDED_VALUE: the series had no value (Prometheus writes a
staleness marker); batchgate keeps the series' last value, and counts it as not rejected."""

DELTA_TEMPORALITY: Final = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE_TEMPORALITY: Final = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

MAX_EXPONENTIAL_BUCKETS: Final = 1000
"""Classic buckets one exponential histogram point may become; beyond, it is refused."""


@dataclass(slots=True)
class ResourceBatch:
    """One resource's points, under the grouping key its attributes give."""

    key: tuple[tuple[str, str], ...]
    points: list[Point] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: int = 0
    """Points without a recorded value (see NO_RECORDED_VALUE)."""
    aggregate: AggregateRule | None = None
    """The rule by which the resources of this job add up into one group (then `key` has no
    `instance`), or None."""
    target_info: bool = False
    """Whether the last point is the resource's `target_info`."""
    reading: Reading | None = None
    """The resource's values as the same-shape path reads them (`repeats`), when the batch
    is of one resource that path could read: what it keeps the export's shape by."""


def any_value(value: AnyValue) -> Any:
    """An AnyValue as Python: str, bool, int, float, bytes, list or dict (None if unset)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(items: Iterable[KeyValue]) -> dict[str, Any]:
    return {item.key: any_value(item.value) for item in items}


def grouping_key(resource: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The group of a resource: `job` (and `instance` when the resource has an id)."""
    name = resource.get(SERVICE_NAME)
    job = str(name) if name not in (None, "") else UNKNOWN_SERVICE
    namespace = resource.get(SERVICE_NAMESPACE)
    if namespace not in (None, ""):
        job = f"{namespace}/{job}"
    key = [("job", job)]
    instance = resource.get(SERVICE_INSTANCE_ID)
    if instance not in (None, ""):
        key.append(("instance", str(instance)))
    return tuple(sorted(key))


def translate_request(
    request: ExportMetricsServiceRequest,
    aggregating: Callable[[str], AggregateRule | None] = lambda job: None,
    readings: Sequence[Reading | None] = (),
) -> list[ResourceBatch]:
    """Every resource of the request, translated (resources with one key merged).

    A resource whose job `aggregating` gives a rule for is grouped by its job alone, every
    instance of the service adding up into one group; it has no `target_info` (each
    instance's attributes would replace the others'). `readings`, if given, are the
    resources' values as the same-shape path read them: a batch of one resource keeps its
    own."""
    batches: dict[tuple[tuple[str, str], ...], ResourceBatch] = {}
    sources: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for position, resource_metrics in enumerate(request.resource_metrics):
        resource = attributes(resource_metrics.resource.attributes)
        key = grouping_key(resource)
        rule = aggregating(dict(key)["job"])
        if rule is not None:
            key = (("job", dict(key)["job"]),)
        batch = batches.setdefault(key, ResourceBatch(key, aggregate=rule))
        sources.setdefault(key, []).append(position)
        latest = 0
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_labels = {}
            if scope.name:
                scope_labels["otel_scope_name"] = scope.name
            if scope.version:
                scope_labels["otel_scope_version"] = scope.version
            for metric in scope_metrics.metrics:
                for item in _translate_metric(metric, scope_labels):
                    if isinstance(item, Point):
                        batch.points.append(item)
                        latest = max(latest, item.time_ns)
                    elif isinstance(item, Rejected):
                        batch.rejected.append(item)
                    else:
                        batch.ignored += 1
        info = {
            name: value
            for name, value in resource.items()
            if name not in (SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID)
        }
        if info and rule is None:
            labels = tuple(sorted(labels_from(info.items()).items()))
            batch.points.append(
                Point(
                    TARGET_INFO, GAUGE, TARGET_INFO_HELP, labels, LAST, 0, latest, 1.0, TARGET_INFO
                )
            )
            batch.target_info = True
    if readings:
        for key, positions in sources.items():
            if len(positions) == 1:
                batches[key].reading = readings[positions[0]]
    return list(batches.values())


_Item = Point | Rejected | None


def _translate_metric(metric: Metric, scope_labels: dict[str, str]) -> Iterator[_Item]:
    kind = metric.WhichOneof("data")
    help_text = metric.description or None
    if kind == "gauge":
        name = metric_name(metric.name, metric.unit, counter=False, gauge=True)
        for number in metric.gauge.data_points:
            yield _number(metric, name, GAUGE, help_text, LAST, number, scope_labels)
    elif kind == "sum":
        data = metric.sum
        how = _how(data.aggregation_temporality)
        points = len(data.data_points)
        if how is None:
            yield Rejected(points, f"{metric.name}: aggregation temporality is unspecified")
            return
        # A monotonic sum is a counter; a non-monotonic one (an up-down counter) a gauge.
        kind_type = COUNTER if data.is_monotonic else GAUGE
        name = metric_name(metric.name, metric.unit, counter=data.is_monotonic, gauge=False)
        for number in data.data_points:
            yield _number(metric, name, kind_type, help_text, how, number, scope_labels)
    elif kind == "histogram":
        how = _how(metric.histogram.aggregation_temporality)
        if how is None:
            yield Rejected(
                len(metric.histogram.data_points),
                f"{metric.name}: aggregation temporality is unspecified",
            )
            return
        name = metric_name(metric.name, metric.unit, counter=False, gauge=False)
        for histogram in metric.histogram.data_points:
            yield _histogram(metric, name, help_text, how, histogram, scope_labels)
    elif kind == "exponential_histogram":
        exponentials = metric.exponential_histogram
        how = _how(exponentials.aggregation_temporality)
        if how is None:
            yield Rejected(
                len(exponentials.data_points),
                f"{metric.name}: aggregation temporality is unspecified",
            )
            return
        name = metric_name(metric.name, metric.unit, counter=False, gauge=False)
        for exponential in exponentials.data_points:
            yield _exponential(metric, name, help_text, how, exponential, scope_labels)
    elif kind == "summary":
        name = metric_name(metric.name, metric.unit, counter=False, gauge=False)
        for summary in metric.summary.data_points:
            if summary.flags & NO_RECORDED_VALUE:
                yield None
                continue
            quantiles = tuple((q.quantile, q.value) for q in summary.quantile_values)
            yield Point(
                name,
                SUMMARY,
                help_text,
                _labels(summary.attributes, scope_labels),
                CUMULATIVE,
                summary.start_time_unix_nano,
                summary.time_unix_nano,
                SummaryValue(summary.count, summary.sum, quantiles),
                metric.name,
            )
    else:
        yield Rejected(1, f"{metric.name or '(no name)'}: the metric carries no data")


def _how(temporality: int) -> str | None:
    if temporality == DELTA_TEMPORALITY:
        return DELTA
    if temporality == CUMULATIVE_TEMPORALITY:
        return CUMULATIVE
    return None


def _labels(items: Sequence[KeyValue], scope_labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    labels: dict[str, str] = {}
    for item in items:
        attribute = item.value
        # Most attributes are strings: the short way for them.
        if attribute.WhichOneof("value") == "string_value":
            labels[label_name(item.key)] = attribute.string_value
        else:
            labels[label_name(item.key)] = attribute_text(any_value(attribute))
    if len(labels) < len(items):  # two attributes became one label: join them as specified
        labels = labels_from((item.key, any_value(item.value)) for item in items)
    for name, text in scope_labels.items():
        labels.setdefault(name, text)
    return tuple(sorted(labels.items()))


def _number(
    metric: Metric,
    name: str,
    kind_type: int,
    help_text: str | None,
    how: str,
    number: NumberDataPoint,
    scope_labels: dict[str, str],
) -> _Item:
    if number.flags & NO_RECORDED_VALUE:
        return None
    which = number.WhichOneof("value")
    if which is None:
        return Rejected(1, f"{metric.name}: a data point has no value")
    value = float(number.as_int) if which == "as_int" else number.as_double
    if kind_type == COUNTER and (value < 0 or math.isnan(value)):
        return Rejected(1, f"{metric.name}: a monotonic sum's value {value} is negative or NaN")
    return Point(
        name,
        kind_type,
        help_text,
        _labels(number.attributes, scope_labels),
        how,
        number.start_time_unix_nano,
        number.time_unix_nano,
        value,
        metric.name,
    )


def _histogram(
    metric: Metric,
    name: str,
    help_text: str | None,
    how: str,
    point: HistogramDataPoint,
    scope_labels: dict[str, str],
) -> _Item:
    if point.flags & NO_RECORDED_VALUE:
        return None
    bounds = tuple(point.explicit_bounds)
    counts = tuple(point.bucket_counts)
    if not counts:
        counts = (point.count,)
        bounds = ()
    elif len(counts) != len(bounds) + 1:
        return Rejected(
            1,
            f"{metric.name}: {len(counts)} bucket counts for {len(bounds)} explicit bounds "
            "(there must be one more count than bounds)",
        )
    if any(not a < b for a, b in itertools.pairwise(bounds)) or any(
        math.isnan(bound) for bound in bounds
    ):
        return Rejected(1, f"{metric.name}: explicit bounds are not increasing")
    bounds_without_infinity = tuple(bound for bound in bounds if bound != math.inf)
    if len(bounds_without_infinity) != len(bounds):
        # A +Inf bound makes the last two buckets one (nothing is above +Inf).
        counts = (*counts[:-2], counts[-2] + counts[-1])
        bounds = bounds_without_infinity
    return _histogram_point(metric, name, help_text, how, point, scope_labels, bounds, counts)


def _exponential(
    metric: Metric,
    name: str,
    help_text: str | None,
    how: str,
    point: ExponentialHistogramDataPoint,
    scope_labels: dict[str, str],
) -> _Item:
    if point.flags & NO_RECORDED_VALUE:
        return None
    converted = classic_buckets(point)
    if isinstance(converted, str):
        return Rejected(1, f"{metric.name}: {converted}")
    bounds, counts = converted
    return _histogram_point(metric, name, help_text, how, point, scope_labels, bounds, counts)


def _histogram_point(
    metric: Metric,
    name: str,
    help_text: str | None,
    how: str,
    point: HistogramDataPoint | ExponentialHistogramDataPoint,
    scope_labels: dict[str, str],
    bounds: tuple[float, ...],
    counts: tuple[int, ...],
) -> Point:
    """A histogram point with classic buckets (`bounds`, and a count for each and above)."""
    total = point.sum if point.HasField("sum") else None
    return Point(
        name,
        HISTOGRAM,
        help_text,
        _labels(point.attributes, scope_labels),
        how,
        point.start_time_unix_nano,
        point.time_unix_nano,
        HistogramValue(bounds, counts, point.count, total),
        metric.name,
    )


def classic_buckets(
    point: ExponentialHistogramDataPoint,
) -> tuple[tuple[float, ...], tuple[int, ...]] | str:
    """An exponential histogram's buckets as classic ones, or why it cannot be converted.

    Bucket `index` of scale `s` holds (base**index, base**(index + 1)] with base
    2**(2**-s); it becomes the classic bucket `le = base**(index + 1)` (negative buckets
    mirror it: `le = -base**index`), and the zero bucket `le = zero_threshold`. Values equal
    to a bound fall in the same bucket either way except at the boundaries' edges, which
    OTLP puts in the lower bucket as `le` does. Counts are per bucket; the last (`+Inf`)
    bucket is empty."""
    positive, negative = point.positive, point.negative
    buckets = len(positive.bucket_counts) + len(negative.bucket_counts) + 1
    if buckets > MAX_EXPONENTIAL_BUCKETS:
        return (
            f"an exponential histogram of {buckets} buckets is more than the "
            f"{MAX_EXPONENTIAL_BUCKETS} classic buckets batchgate converts one to"
        )
    scale = point.scale
    bounds: list[float] = []
    counts: list[int] = []
    try:
        for position in reversed(range(len(negative.bucket_counts))):
            index = negative.offset + position
            bounds.append(-_power(scale, index))
            counts.append(negative.bucket_counts[position])
        bounds.append(point.zero_threshold)
        counts.append(point.zero_count)
        for position, count in enumerate(positive.bucket_counts):
            index = positive.offset + position
            bounds.append(_power(scale, index + 1))
            counts.append(count)
    except OverflowError:
        return f"exponential histogram bucket bounds at scale {scale} overflow a float"
    if any(not a < b for a, b in itertools.pairwise(bounds)):
        return "exponential histogram buckets overlap its zero bucket"
    counts.append(0)
    return tuple(bounds), tuple(counts)


def _power(scale: int, index: int) -> float:
    """base**index for base 2**(2**-scale)."""
    result = float(2.0 ** (index * 2.0**-scale))
    if math.isinf(result):
        raise OverflowError
    return result
