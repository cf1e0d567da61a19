"""One OTLP data point, translated: the Prometheus family it belongs to, its labels, its
times and its value (a number, a histogram's buckets or a summary's quantiles)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CUMULATIVE: Final = "cumulative"
DELTA: Final = "delta"
LAST: Final = "last"
"""How a point's value joins what is stored: it replaces it (a cumulative sum, histogram or
summary), it is added to it (a delta), or it is the last value (a gauge)."""

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class HistogramValue:
    bounds: tuple[float, ...]
    """Upper bounds, increasing; the `+Inf` bucket is implicit."""
    counts: tuple[int, ...]
    """Observations per bucket (not cumulative): one more than `bounds`."""
    count: int
    sum: float | None

    def plus(self, other: HistogramValue) -> HistogramValue:
        """Both added (same bounds: the caller checks)."""
        if self.sum is None and other.sum is None:
            total = None
        else:
            total = (self.sum or 0.0) + (other.sum or 0.0)
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return HistogramValue(self.bounds, counts, self.count + other.count, total)


@dataclass(frozen=True, slots=True)
class SummaryValue:
    count: int
    sum: float
    quantiles: tuple[tuple[float, float], ...]


Value = float | HistogramValue | SummaryValue


@dataclass(slots=True)
class Point:
    """A translated data point. Not frozen: one is built per data point, and a frozen
    dataclass takes about twice as long to build."""

    family: str
    type: int
    """The Prometheus type (batchgate.collector.pushgateway.model's COUNTER, GAUGE, ...)."""
    help: str | None
    labels: Labels
    """Sorted by name; without the group's `job` and `instance` (the group adds them)."""
    how: str
    """CUMULATIVE, DELTA or LAST."""
    start_ns: int
    time_ns: int
    value: Value
    source: str
    """The OTLP metric's own name, for messages."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """Data points refused, and why (`partial_success.error_message` names each reason)."""

    points: int
    reason: str


@dataclass(slots=True)
class Reading:
    """One resource's number points as the same-shape path reads them (`repeats`): the
    digest of everything else the resource carries, and each point's value, start and time
    in the order translation meets them."""

    digest: bytes
    values: list[float]
    starts: list[int]
    times: list[int]
