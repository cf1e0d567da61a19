"""A metric as the Pushgateway's error messages print it: golang/protobuf's compact text form.

client_golang formats `collected metric "x" { %s} ...` with the `dto.Metric`'s String(),
which is the legacy compact text format: fields in declaration order, sub-messages in
`<...>`, each field followed by a space, strings with octal escapes beyond ASCII.
"""

from __future__ import annotations

from batchgate.collector.pushgateway.goformat import proto_text_float, proto_text_quote
from batchgate.collector.pushgateway.model import (
    Exemplar,
    Histogram,
    LabelPairs,
    Metric,
    NativeHistogram,
    Summary,
    Value,
)


def metric_text(metric: Metric) -> str:
    """`dto.Metric.String()`: e.g. `label:<name:"job" value:"a" > gauge:<value:1 > `."""
    out: list[str] = []
    _labels(out, "label", metric.labels)
    for name, holder in (("gauge", metric.gauge), ("counter", metric.counter)):
        if holder is not None:
            out.append(f"{name}:<")
            _value(out, holder)
            out.append("> ")
    if metric.summary is not None:
        out.append("summary:<")
        _summary(out, metric.summary)
        out.append("> ")
    if metric.untyped is not None:
        out.append("untyped:<")
        _value(out, metric.untyped)
        out.append("> ")
    if metric.histogram is not None:
        out.append("histogram:<")
        _histogram(out, metric.histogram)
        out.append("> ")
    if metric.timestamp_ms is not None:
        out.append(f"timestamp_ms:{metric.timestamp_ms} ")
    return "".join(out)


def _labels(out: list[str], field: str, labels: LabelPairs) -> None:
    for name, value in labels:
        out.append(f"{field}:<name:{proto_text_quote(name)} value:{proto_text_quote(value)} > ")


def _value(out: list[str], holder: Value) -> None:
    if holder.value is not None:
        out.append(f"value:{proto_text_float(holder.value)} ")
    if holder.exemplar is not None:
        out.append("exemplar:<")
        _exemplar(out, holder.exemplar)
        out.append("> ")


def _exemplar(out: list[str], exemplar: Exemplar) -> None:
    _labels(out, "label", exemplar.labels)
    if exemplar.value is not None:
        out.append(f"value:{proto_text_float(exemplar.value)} ")
    if exemplar.timestamp is not None:
        seconds, nanos = exemplar.timestamp
        out.append("timestamp:<")
        if seconds:
            out.append(f"seconds:{seconds} ")
        if nanos:
            out.append(f"nanos:{nanos} ")
        out.append("> ")


def _summary(out: list[str], summary: Summary) -> None:
    if summary.sample_count is not None:
        out.append(f"sample_count:{summary.sample_count} ")
    if summary.sample_sum is not None:
        out.append(f"sample_sum:{proto_text_float(summary.sample_sum)} ")
    for quantile in summary.quantiles:
        out.append("quantile:<")
        if quantile.quantile is not None:
            out.append(f"quantile:{proto_text_float(quantile.quantile)} ")
        if quantile.value is not None:
            out.append(f"value:{proto_text_float(quantile.value)} ")
        out.append("> ")


def _histogram(out: list[str], histogram: Histogram) -> None:
    if histogram.sample_count is not None:
        out.append(f"sample_count:{histogram.sample_count} ")
    if histogram.sample_count_float is not None:
        out.append(f"sample_count_float:{proto_text_float(histogram.sample_count_float)} ")
    if histogram.sample_sum is not None:
        out.append(f"sample_sum:{proto_text_float(histogram.sample_sum)} ")
    for bucket in histogram.buckets:
        out.append("bucket:<")
        if bucket.cumulative_count is not None:
            out.append(f"cumulative_count:{bucket.cumulative_count} ")
        if bucket.cumulative_count_float is not None:
            out.append(f"cumulative_count_float:{proto_text_float(bucket.cumulative_count_float)} ")
        if bucket.upper_bound is not None:
            out.append(f"upper_bound:{proto_text_float(bucket.upper_bound)} ")
        if bucket.exemplar is not None:
            out.append("exemplar:<")
            _exemplar(out, bucket.exemplar)
            out.append("> ")
        out.append("> ")
    if histogram.native is not None:
        _native(out, histogram.native)


def _native(out: list[str], native: NativeHistogram) -> None:
    if native.schema is not None:
        out.append(f"schema:{native.schema} ")
    if native.zero_threshold is not None:
        out.append(f"zero_threshold:{proto_text_float(native.zero_threshold)} ")
    if native.zero_count is not None:
        out.append(f"zero_count:{native.zero_count} ")
    if native.zero_count_float is not None:
        out.append(f"zero_count_float:{proto_text_float(native.zero_count_float)} ")
    for side, spans, deltas, counts in (
        ("negative", native.negative_span, native.negative_delta, native.negative_count),
        ("positive", native.positive_span, native.positive_delta, native.positive_count),
    ):
        for offset, length in spans:
            out.append(f"{side}_span:<")
            if offset is not None:
                out.append(f"offset:{offset} ")
            if length is not None:
                out.append(f"length:{length} ")
            out.append("> ")
        out.extend(f"{side}_delta:{delta} " for delta in deltas)
        out.extend(f"{side}_count:{proto_text_float(count)} " for count in counts)
