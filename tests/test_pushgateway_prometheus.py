"""A real Prometheus scrapes batchgate with honor_labels and sees the pushed series, with
the labels they were pushed with, beside batchgate's own job metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import push_to_gateway

from tests.helpers import Client, push
from tests.prometheus_server import prometheus
from tests.test_pushgateway_clients import gateway


async def test_prometheus_scrapes_pushed_groups_with_their_labels(
    client: Client, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    Gauge("rows_exported", "Rows exported.", ["table"], registry=registry).labels("users").set(77)
    await asyncio.to_thread(
        push_to_gateway, gateway(client), "exporter", registry, {"instance": "db/main"}
    )
    await push(client, {"job": "etl_orders", "event": "success", "duration_seconds": 12})
    with prometheus(tmp_path, [f"{client.host}:{client.port}"]) as server:
        (pushed,) = await asyncio.to_thread(server.wait_for, "rows_exported")
        assert pushed["metric"] == {
            "__name__": "rows_exported",
            "job": "exporter",
            "instance": "db/main",
            "table": "users",
        }
        assert pushed["value"][1] == "77"
        (runs,) = await asyncio.to_thread(
            server.wait_for, 'batchgate_job_runs_total{job="etl_orders",status="succeeded"}'
        )
        assert runs["value"][1] == "1"
