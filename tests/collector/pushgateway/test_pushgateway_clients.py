"""Existing Pushgateway clients work against batchgate unchanged: prometheus_client's
push_to_gateway, pushadd_to_gateway and delete_from_gateway, gzip, every metric type,
odd grouping keys, and a delimited-protobuf push as the Go client sends it."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import (
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)
from prometheus_client.parser import text_string_to_metric_families

from batchgate.collector.pushgateway import PROTOBUF_CONTENT_TYPE, encode_delimited
from batchgate.collector.pushgateway.model import GAUGE, Metric, MetricFamily, Value
from tests.helpers import Client

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client) -> Series:
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def gateway(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def registry_with_every_type() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("records_loaded", "Records loaded.", registry=registry).inc(1200)
    Gauge("last_batch_size", "Rows in the last batch.", ["table"], registry=registry).labels(
        "orders"
    ).set(250)
    histogram = Histogram("batch_seconds", "Batch time.", buckets=(1.0, 5.0), registry=registry)
    histogram.observe(0.5)
    histogram.observe(3.0)
    Summary("row_bytes", "Row sizes.", registry=registry).observe(512)
    return registry


async def test_push_to_gateway_stores_every_type_under_an_odd_grouping_key(
    client: Client,
) -> None:
    grouping = {"instance": "db/1 main", "region": "", "zone": "zürich"}
    await asyncio.to_thread(
        push_to_gateway, gateway(client), "etl", registry_with_every_type(), grouping
    )
    series = await scrape(client)
    key = labels(job="etl", instance="db/1 main", region="", zone="zürich")
    assert series[("records_loaded_total", key)] == 1200
    assert series[("last_batch_size", key | labels(table="orders"))] == 250
    assert series[("batch_seconds_bucket", key | labels(le="1"))] == 1, "bounds as Go writes them"
    assert series[("batch_seconds_bucket", key | labels(le="5"))] == 2
    assert series[("batch_seconds_bucket", key | labels(le="+Inf"))] == 2
    assert series[("batch_seconds_count", key)] == 2
    assert series[("batch_seconds_sum", key)] == 3.5
    assert series[("row_bytes_count", key)] == 1
    assert series[("row_bytes_sum", key)] == 512
    assert series[("push_time_seconds", key)] > 0
    assert series[("push_failure_time_seconds", key)] == 0


async def test_pushadd_replaces_only_the_families_it_pushes(client: Client) -> None:
    first = CollectorRegistry()
    Gauge("rows", "Rows.", registry=first).set(1)
    Gauge("bytes", "Bytes.", registry=first).set(10)
    await asyncio.to_thread(push_to_gateway, gateway(client), "sync", first)
    second = CollectorRegistry()
    Gauge("rows", "Rows.", registry=second).set(2)
    await asyncio.to_thread(pushadd_to_gateway, gateway(client), "sync", second)
    series = await scrape(client)
    key = labels(job="sync", instance="")
    assert series[("rows", key)] == 2
    assert series[("bytes", key)] == 10, "POST keeps families it did not push"
    await asyncio.to_thread(push_to_gateway, gateway(client), "sync", second)
    assert ("bytes", key) not in await scrape(client), "PUT replaces the whole group"


async def test_delete_from_gateway_removes_exactly_one_group(client: Client) -> None:
    registry = CollectorRegistry()
    Gauge("up_to_date", "1 when synced.", registry=registry).set(1)
    for host in ("a", "b"):
        await asyncio.to_thread(
            push_to_gateway, gateway(client), "mirror", registry, {"host": host}
        )
    await asyncio.to_thread(delete_from_gateway, gateway(client), "mirror", {"host": "a"})
    series = await scrape(client)
    assert ("up_to_date", labels(job="mirror", host="a", instance="")) not in series
    assert series[("up_to_date", labels(job="mirror", host="b", instance=""))] == 1


async def test_a_gzipped_push_is_read(client: Client) -> None:
    registry = CollectorRegistry()
    Gauge("compressed", "Sent gzipped.", registry=registry).set(42)
    await asyncio.to_thread(
        push_to_gateway, gateway(client), "zipped", registry, compression="gzip"
    )
    assert (await scrape(client))[("compressed", labels(job="zipped", instance=""))] == 42


async def test_a_delimited_protobuf_push_as_the_go_client_sends_it(client: Client) -> None:
    body = encode_delimited(
        [
            MetricFamily(
                "go_pushed_gauge",
                "Pushed by a Go program.",
                GAUGE,
                [Metric([("shard", "7")], gauge=Value(3.25))],
            )
        ]
    )
    response = await client.put(
        "/metrics/job/go_batch/instance/worker-1",
        data=body,
        headers={"Content-Type": PROTOBUF_CONTENT_TYPE},
    )
    assert response.status == 200, await response.text()
    key = labels(job="go_batch", instance="worker-1", shard="7")
    assert (await scrape(client))[("go_pushed_gauge", key)] == 3.25


async def test_the_api_lists_groups_in_the_pushgateways_shape(client: Client) -> None:
    registry = CollectorRegistry()
    Gauge("rows", "Rows loaded.", registry=registry).set(5)
    await asyncio.to_thread(push_to_gateway, gateway(client), "api_job", registry)
    response = await client.get("/api/v1/metrics")
    answer: dict[str, Any] = await response.json()
    assert answer["status"] == "success"
    (group,) = answer["data"]
    assert group["labels"] == {"job": "api_job"}, "grouping labels only, as the Pushgateway"
    assert group["last_push_successful"] is True
    assert group["rows"]["type"] == "GAUGE"
    assert group["rows"]["help"] == "Rows loaded."
    assert group["rows"]["metrics"][0]["value"] == "5"
    status = await (await client.get("/api/v1/status")).json()
    assert status["status"] == "success"
    assert "build_information" in status["data"]
