"""What one parse of a text body has built so far, shared by the parser's two tiers.

`text_parser` reads the usual lines fast; `expfmt_state_machine` replays every other line
as expfmt would. Both find a line's family here (expfmt's setOrCreateCurrentMF) and add
its sample here (expfmt's readingValue), so they build the same families.
"""

from __future__ import annotations

from batchgate.collector.pushgateway.goformat import go_uint64
from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    Bucket,
    Histogram,
    Metric,
    MetricFamily,
    Quantile,
    Summary,
    Value,
)


class ParsedFamilies:
    """The families of one body so far, and the summaries and histograms being assembled."""

    def __init__(self) -> None:
        self.families: dict[str, MetricFamily] = {}
        # expfmt's LabelsToSignature includes the family name (`__name__`).
        self.summaries: dict[tuple[str, tuple[tuple[str, str], ...]], Metric] = {}
        self.histograms: dict[tuple[str, tuple[tuple[str, str], ...]], Metric] = {}

    def find_family(self, name: str) -> tuple[MetricFamily | None, bool, bool]:
        """The family a line named `name` belongs to, and whether it is a `_count` / `_sum`."""
        family = self.families.get(name)
        if family is not None:
            return family, False, False
        is_count = len(name) > 6 and name.endswith("_count")
        is_sum = len(name) > 4 and name.endswith("_sum")
        if is_count or is_sum:
            base = name[:-6] if is_count else name[:-4]
            family = self.families.get(base)
            if family is not None and family.type in (SUMMARY, HISTOGRAM):
                return family, is_count, is_sum
        elif len(name) > 7 and name.endswith("_bucket"):
            family = self.families.get(name[:-7])
            if family is not None and family.type == HISTOGRAM:
                return family, False, False
        return None, False, False

    def family_for(self, name: str) -> tuple[MetricFamily, bool, bool]:
        family, is_count, is_sum = self.find_family(name)
        if family is None:
            family = MetricFamily(name)
            self.families[name] = family
        return family, is_count, is_sum

    # expfmt's readingValue, once labels and value are known.
    def add_sample(
        self,
        family: MetricFamily,
        metric: Metric,
        is_count: bool,
        is_sum: bool,
        signature_labels: list[tuple[str, str]],
        quantile: float,
        bucket: float,
        value: float,
    ) -> Metric:
        family_type = family.type
        if family_type in (SUMMARY, HISTOGRAM):
            signature = (family.name, tuple(sorted(signature_labels)))
            known = self.summaries if family_type == SUMMARY else self.histograms
            existing = known.get(signature)
            if existing is None:
                known[signature] = metric
                family.metrics.append(metric)
            else:
                metric = existing
            if family_type == SUMMARY:
                summary = metric.summary
                if summary is None:
                    summary = metric.summary = Summary()
                if is_count:
                    summary.sample_count = go_uint64(value)
                elif is_sum:
                    summary.sample_sum = value
                elif quantile == quantile:
                    summary.quantiles.append(Quantile(quantile, value))
            else:
                histogram = metric.histogram
                if histogram is None:
                    histogram = metric.histogram = Histogram()
                if is_count:
                    histogram.sample_count = go_uint64(value)
                elif is_sum:
                    histogram.sample_sum = value
                elif bucket == bucket:
                    histogram.buckets.append(Bucket(go_uint64(value), None, bucket))
            return metric
        family.metrics.append(metric)
        if family_type == COUNTER:
            metric.counter = Value(value)
        elif family_type == GAUGE:
            metric.gauge = Value(value)
        else:
            metric.untyped = Value(value)
        return metric
