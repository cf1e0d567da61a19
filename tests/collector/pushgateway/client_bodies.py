"""Push bodies as real clients produce them: prometheus_client's text, client_golang's protobuf."""

from __future__ import annotations

import math

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    generate_latest,
)

from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    UNTYPED,
    Bucket,
    Metric,
    MetricFamily,
    Quantile,
    Value,
)
from batchgate.collector.pushgateway.model import Histogram as HistogramValue
from batchgate.collector.pushgateway.model import Summary as SummaryValue
from batchgate.collector.pushgateway.protobuf_encoding import encode_delimited

ODD_VALUES = ("a b/c", 'quote"back\\slash\nnew', "", "ünïcødé ☃", "{}=,")


def python_client_body() -> bytes:
    """What prometheus_client's push_to_gateway sends: generate_latest of a registry."""
    registry = CollectorRegistry()
    processed = Counter("jobs_processed", "Processed jobs.", ["queue"], registry=registry)
    for number, value in enumerate(ODD_VALUES):
        processed.labels(value).inc(number + 0.5)
    Gauge("last_run_seconds", "Last run, in seconds.", registry=registry).set(1.5e-7)
    Gauge("big_number", "A big one.", registry=registry).set(123456789012.0)
    Gauge("negative_infinity", "Minus infinity.", registry=registry).set(-math.inf)
    duration = Histogram(
        "duration_seconds", "Duration.", ["stage"], buckets=(0.1, 1, 10), registry=registry
    )
    duration.labels("load").observe(0.05)
    duration.labels("load").observe(5)
    duration.labels("save").observe(50)
    Summary("payload_bytes", "Payload size.", registry=registry).observe(100)
    Info("build", "Build information.", registry=registry).info({"version": "1.0", "rev": "x/y"})
    Enum("state", "Job state.", states=["starting", "done"], registry=registry).state("done")
    return generate_latest(registry)


def go_client_families() -> list[MetricFamily]:
    """Families as client_golang's push builds them: labels sorted, no +Inf bucket, help set."""

    def labels(**pairs: str) -> list[tuple[str, str]]:
        return sorted(pairs.items())

    return [
        MetricFamily(
            "etl_records_total",
            "Records processed.",
            COUNTER,
            [
                Metric(labels(shard="1"), counter=Value(1024.0)),
                Metric(labels(shard="2"), counter=Value(12.0)),
            ],
        ),
        MetricFamily(
            "etl_last_success_timestamp_seconds",
            "Last success.",
            GAUGE,
            [Metric([], gauge=Value(1795343000.25))],
        ),
        MetricFamily(
            "etl_duration_seconds",
            "Duration.",
            HISTOGRAM,
            [
                Metric(
                    labels(step="extract"),
                    histogram=HistogramValue(
                        7,
                        None,
                        12.5,
                        [Bucket(1, None, 0.5), Bucket(4, None, 1.0), Bucket(6, None, 5.0)],
                    ),
                )
            ],
        ),
        MetricFamily(
            "etl_latency_seconds",
            "Latency.",
            SUMMARY,
            [
                Metric(
                    [],
                    summary=SummaryValue(
                        3, 0.75, [Quantile(0.5, 0.2), Quantile(0.9, 0.5), Quantile(0.99, 0.5)]
                    ),
                )
            ],
        ),
        MetricFamily("etl_untyped", "", UNTYPED, [Metric([], untyped=Value(-0.0))]),
    ]


def go_client_body() -> bytes:
    return encode_delimited(go_client_families())
