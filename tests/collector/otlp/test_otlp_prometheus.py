"""A real Prometheus scrapes batchgate (the shipped scrape configuration, honor_labels) and
sees an OpenTelemetry job's metrics with the names, labels and values the OpenTelemetry
specification's Prometheus compatibility section gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.collector.dashboard.prometheus import running_prometheus
from tests.collector.otlp.sdk import InstrumentedJob, url
from tests.collector.pushgateway.test_pushgateway_prometheus import wait_for
from tests.helpers import Client


def exporting_job(base_url: str) -> None:
    job = InstrumentedJob(
        base_url,
        {"service.name": "nightly", "service.namespace": "etl", "service.instance.id": "n-1",
         "host.name": "db1"},
        delta=True,
    )  # fmt: skip
    rows = job.meter.create_counter("rows.written", unit="{row}")
    seconds = job.meter.create_histogram("load.time", unit="s")
    for _ in range(3):
        rows.add(100, {"table": "orders"})
        seconds.record(1.5)
        job.flush()
    job.end()


async def test_prometheus_sees_what_the_specification_says(client: Client, tmp_path: Path) -> None:
    await asyncio.to_thread(exporting_job, url(client))
    scope = {"otel_scope_name": "batch.job", "otel_scope_version": "1.0"}
    with running_prometheus(tmp_path, f"{client.host}:{client.port}") as prometheus:
        (rows,) = await asyncio.to_thread(wait_for, prometheus, "rows_written_total")
        assert rows["metric"] == {
            "__name__": "rows_written_total",
            "job": "etl/nightly",
            "instance": "n-1",
            "table": "orders",
            **scope,
        }
        assert rows["value"][1] == "300"
        (count,) = await asyncio.to_thread(wait_for, prometheus, "load_time_seconds_count")
        assert count["value"][1] == "3"
        (info,) = await asyncio.to_thread(wait_for, prometheus, "target_info")
        assert info["metric"]["host_name"] == "db1"
        assert info["metric"]["job"] == "etl/nightly"
        assert info["metric"]["instance"] == "n-1"
