"""A job instrumented with the real OpenTelemetry Python SDK, exporting OTLP/HTTP (protobuf)
to batchgate: a MeterProvider whose reader exports only when asked (`flush`) and at the
job's end (`end`), as a batch job's exporter does."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from tests.helpers import Client

DELTA = {
    Counter: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
}


def url(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


class RecordingExporter(OTLPMetricExporter):
    """The real exporter, remembering what each export returned."""

    def __init__(self, **arguments: Any) -> None:
        super().__init__(**arguments)
        self.results: list[MetricExportResult] = []

    def export(self, *arguments: Any, **keywords: Any) -> MetricExportResult:
        result = super().export(*arguments, **keywords)
        self.results.append(result)
        return result


class InstrumentedJob:
    """A MeterProvider for one service, exporting to `base_url`'s /v1/metrics."""

    def __init__(
        self,
        base_url: str,
        resource: Mapping[str, str],
        *,
        delta: bool = False,
        gzip: bool = False,
    ) -> None:
        self.exporter = RecordingExporter(
            endpoint=f"{base_url}/v1/metrics",
            preferred_temporality=DELTA if delta else {},
            compression=Compression.Gzip if gzip else Compression.NoCompression,
            timeout=30,
        )
        self.reader = PeriodicExportingMetricReader(self.exporter, export_interval_millis=3_600_000)
        self.provider = MeterProvider(
            resource=Resource.create(dict(resource)), metric_readers=[self.reader]
        )
        self.meter = self.provider.get_meter("batch.job", "1.0")

    def flush(self) -> None:
        assert self.provider.force_flush(30_000)

    def end(self) -> None:
        self.provider.shutdown()
        assert self.exporter.results, "nothing was exported"
        assert all(r is MetricExportResult.SUCCESS for r in self.exporter.results)


def scrape(base_url: str) -> str:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as answer:
        text: str = answer.read().decode()
    return text


def sample(text: str, series: str) -> float | None:
    """The value of the series written exactly as `series` (name and labels) in `text`."""
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return None
