"""Text exposition 0.0.4 of pushed metrics, as the Pushgateway's expfmt text encoder writes it.

Each metric is rendered once, when it is pushed, into the block of lines a scrape will
join. Labels come sorted by name (sanitizeLabels sorts them), then the `le` or `quantile`
label the encoder appends; values use Go's float formatting; histograms without a `+Inf`
bucket get one, with the sample count.
"""

from __future__ import annotations

import math
from typing import Final

from batchgate.collector.pushgateway.goformat import format_sample_value
from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    GAUGE_HISTOGRAM,
    HISTOGRAM,
    SUMMARY,
    TYPE_KEYWORDS,
    Metric,
)

_ESCAPE_LABEL: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_ESCAPE_HELP: Final = str.maketrans({"\\": "\\\\", "\n": "\\n"})


def escape_label_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.translate(_ESCAPE_LABEL)
    return value


def family_header(name: str, help_text: str | None, family_type: int) -> str:
    """The `# HELP` (only when the family has one, even empty) and `# TYPE` lines."""
    type_line = f"# TYPE {name} {TYPE_KEYWORDS[family_type]}\n"
    if help_text is None:
        return type_line
    if "\\" in help_text or "\n" in help_text:
        help_text = help_text.translate(_ESCAPE_HELP)
    return f"# HELP {name} {help_text}\n{type_line}"


def render_labels(labels: list[tuple[str, str]]) -> str:
    """`a="1",b="2"` for labels already sorted by name."""
    return ",".join(f'{name}="{escape_label_value(value)}"' for name, value in labels)


def render_metric(name: str, family_type: int, metric: Metric, labels_text: str) -> str:
    """All lines of one metric; `labels_text` is its rendered (sorted, sanitized) labels."""
    if family_type == SUMMARY:
        return _render_summary(name, metric, labels_text)
    if family_type in (HISTOGRAM, GAUGE_HISTOGRAM):
        return _render_histogram(name, metric, labels_text)
    if family_type == GAUGE:
        holder = metric.gauge
    elif family_type == COUNTER:
        holder = metric.counter
    else:
        holder = metric.untyped
    value = holder.value if holder is not None and holder.value is not None else 0.0
    if labels_text:
        return f"{name}{{{labels_text}}} {format_sample_value(value)}\n"
    return f"{name} {format_sample_value(value)}\n"


def _series(name: str, labels_text: str, extra: str, value: float) -> str:
    if labels_text and extra:
        return f"{name}{{{labels_text},{extra}}} {format_sample_value(value)}\n"
    if labels_text or extra:
        return f"{name}{{{labels_text}{extra}}} {format_sample_value(value)}\n"
    return f"{name} {format_sample_value(value)}\n"


def _render_summary(name: str, metric: Metric, labels_text: str) -> str:
    summary = metric.summary
    lines = []
    count = 0
    total = 0.0
    if summary is not None:
        for quantile in summary.quantiles:
            bound = format_sample_value(quantile.quantile or 0.0)
            lines.append(_series(name, labels_text, f'quantile="{bound}"', quantile.value or 0.0))
        count = summary.sample_count or 0
        total = summary.sample_sum or 0.0
    lines.append(_series(name + "_sum", labels_text, "", total))
    lines.append(_series(name + "_count", labels_text, "", float(count)))
    return "".join(lines)


def _render_histogram(name: str, metric: Metric, labels_text: str) -> str:
    histogram = metric.histogram
    lines = []
    count = 0
    total = 0.0
    infinity_seen = False
    if histogram is not None:
        bucket_name = name + "_bucket"
        for bucket in histogram.buckets:
            bound = bucket.upper_bound or 0.0
            lines.append(
                _series(
                    bucket_name,
                    labels_text,
                    f'le="{format_sample_value(bound)}"',
                    float(bucket.cumulative_count or 0),
                )
            )
            if bound == math.inf:
                infinity_seen = True
        count = histogram.sample_count or 0
        total = histogram.sample_sum or 0.0
    if not infinity_seen:
        lines.append(_series(name + "_bucket", labels_text, 'le="+Inf"', float(count)))
    lines.append(_series(name + "_sum", labels_text, "", total))
    lines.append(_series(name + "_count", labels_text, "", float(count)))
    return "".join(lines)


def has_synthetic_infinity_bucket(family_type: int, metric: Metric) -> bool:
    """Whether rendering adds a `+Inf` bucket the push did not carry (histograms only)."""
    if family_type not in (HISTOGRAM, GAUGE_HISTOGRAM):
        return False
    histogram = metric.histogram
    if histogram is None:
        return True
    return not any(bucket.upper_bound == math.inf for bucket in histogram.buckets)


_EXACT_COUNT_LIMIT: Final = 1 << 53


def _exact(value: float | None) -> bool:
    return value is None or value != 0 or math.copysign(1.0, value) > 0


def text_round_trips(family_type: int, metric: Metric) -> bool:
    """Whether parsing the rendered text gives this metric back as the JSON API shows it.

    Rendering loses the sign of a zero (written `0`) and the last digits of counts above
    2^53 (written as floats); such metrics are kept in protobuf form as well.
    """
    if family_type == SUMMARY:
        summary = metric.summary
        if summary is None:
            return True
        return (
            (summary.sample_count or 0) < _EXACT_COUNT_LIMIT
            and _exact(summary.sample_sum)
            and all(_exact(q.quantile) and _exact(q.value) for q in summary.quantiles)
        )
    if family_type in (HISTOGRAM, GAUGE_HISTOGRAM):
        histogram = metric.histogram
        if histogram is None:
            return True
        return (
            (histogram.sample_count or 0) < _EXACT_COUNT_LIMIT
            and _exact(histogram.sample_sum)
            and all(
                (bucket.cumulative_count or 0) < _EXACT_COUNT_LIMIT and _exact(bucket.upper_bound)
                for bucket in histogram.buckets
            )
        )
    holder = metric.gauge or metric.counter or metric.untyped
    return holder is None or _exact(holder.value)


def without_synthetic_infinity_bucket(name: str, block: str) -> str:
    """A histogram's rendered lines without the `+Inf` bucket the encoder added."""
    prefix = name + "_bucket"
    return "".join(
        line
        for line in block.splitlines(keepends=True)
        if not (line.startswith(prefix) and 'le="+Inf"} ' in line)
    )
