"""A real Prometheus scrapes batchgate with the shipped scrape configuration (honor_labels)
and sees the pushed series, with the labels they were pushed with, beside batchgate's own
job metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import push_to_gateway

from tests.collector.dashboard.prometheus import Prometheus, running_prometheus
from tests.collector.pushgateway.test_pushgateway_clients import gateway
from tests.helpers import Client, push


def wait_for(prometheus: Prometheus, expression: str, within: float = 60.0) -> list[Any]:
    """Poll an instant query until it returns something."""
    deadline = time.monotonic() + within
    while not (result := prometheus.query(expression)):
        assert time.monotonic() < deadline, f"{expression}: nothing within {within:.0f}s"
        time.sleep(0.2)
    return result


async def test_prometheus_scrapes_pushed_groups_with_their_labels(
    client: Client, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    Gauge("rows_exported", "Rows exported.", ["table"], registry=registry).labels("users").set(77)
    await asyncio.to_thread(
        push_to_gateway, gateway(client), "exporter", registry, {"instance": "db/main"}
    )
    await push(client, {"job": "etl_orders", "event": "success", "duration_seconds": 12})
    with running_prometheus(tmp_path, f"{client.host}:{client.port}") as prometheus:
        (pushed,) = await asyncio.to_thread(wait_for, prometheus, "rows_exported")
        assert pushed["metric"] == {
            "__name__": "rows_exported",
            "job": "exporter",
            "instance": "db/main",
            "table": "users",
        }
        assert pushed["value"][1] == "77"
        query = 'batchgate_job_runs_total{job="etl_orders",status="succeeded"}'
        (runs,) = await asyncio.to_thread(wait_for, prometheus, query)
        assert runs["value"][1] == "1"
