"""Aggregating groups: for a job matching `pushgateway.aggregate`, what many short-lived
workers POST adds up (counters, histograms, summaries' counts and sums; gauges by policy),
durably; a PUT replaces, a DELETE resets, and a push that cannot be added is refused with
the reason."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from batchgate.collector.pushgateway import AggregateRule
from batchgate.collector.settings import ConfigError, PushgatewaySettings, load_settings
from tests.collector.dashboard.prometheus import running_prometheus
from tests.collector.otlp.sdk import sample
from tests.collector.pushgateway.test_pushgateway_prometheus import wait_for
from tests.collector.test_settings import files
from tests.helpers import IMPORT_ROOT, Client

Start = Callable[..., Awaitable[Client]]
AGGREGATE = PushgatewaySettings(aggregate=(AggregateRule("lambda_*", gauges="max"),))

WORKER = """
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import pushadd_to_gateway

gateway, number = sys.argv[1], int(sys.argv[2])
registry = CollectorRegistry()
Counter("invocations", "Invocations.", ["region"], registry=registry).labels("eu").inc(number)
Gauge("peak_memory_bytes", "Peak memory.", registry=registry).set(1000 * number)
latency = Histogram("latency_seconds", "Latency.", buckets=(0.5, 1, 5), registry=registry)
latency.observe(0.1 * number)
pushadd_to_gateway(gateway, job="lambda_resize", registry=registry)
"""


def gateway(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


def run_workers(url: str, numbers: range) -> None:
    """One process per worker, all at once, each pushing its own counts once at its end."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(number)],
            env={"PYTHONPATH": IMPORT_ROOT},
        )
        for number in numbers
    ]
    for worker in workers:
        assert worker.wait(60) == 0


async def scrape(client: Client) -> str:
    return await (await client.get("/metrics")).text()


GROUP = 'instance="",job="lambda_resize"'


async def test_twenty_workers_add_up_exactly(start: Start, tmp_path: Path) -> None:
    client = await start(pushgateway=AGGREGATE)
    await asyncio.to_thread(run_workers, gateway(client), range(1, 21))
    text = await scrape(client)
    assert sample(text, f'invocations_total{{{GROUP},region="eu"}}') == 210  # 1 + ... + 20
    assert sample(text, f"peak_memory_bytes{{{GROUP}}}") == 20_000  # gauges: max
    assert sample(text, f"latency_seconds_count{{{GROUP}}}") == 20
    assert sample(text, f'latency_seconds_bucket{{{GROUP},le="0.5"}}') == 5  # 0.1 ... 0.5
    assert sample(text, f'latency_seconds_bucket{{{GROUP},le="1"}}') == 10
    assert sample(text, f"latency_seconds_sum{{{GROUP}}}") == pytest.approx(21.0)
    with running_prometheus(tmp_path, f"{client.host}:{client.port}") as prometheus:
        (total,) = await asyncio.to_thread(wait_for, prometheus, "invocations_total")
        assert total["value"][1] == "210"
        assert total["metric"]["job"] == "lambda_resize"


async def test_a_restart_in_the_middle_keeps_the_sum(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    await asyncio.to_thread(run_workers, gateway(client), range(1, 11))
    await client.close()
    client = await start(pushgateway=AGGREGATE)
    await asyncio.to_thread(run_workers, gateway(client), range(11, 21))
    text = await scrape(client)
    assert sample(text, f'invocations_total{{{GROUP},region="eu"}}') == 210
    assert sample(text, f"latency_seconds_count{{{GROUP}}}") == 20
    await client.close()


async def post(client: Client, body: bytes, method: str = "POST", job: str = "lambda_a") -> str:
    response = await client.request(method, f"/metrics/job/{job}", data=body)
    text = await response.text()
    return f"{response.status} {text}".strip()


async def test_a_type_change_or_a_counter_going_backwards_is_refused(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    assert await post(client, b"# TYPE done counter\ndone 5\n") == "200"
    answer = await post(client, b"# TYPE done gauge\ndone 1\n")
    assert answer.startswith("400 ")
    assert "done is stored as a COUNTER and was pushed as a GAUGE" in answer
    answer = await post(client, b"# TYPE done counter\ndone -2\n")
    assert answer.startswith("400 ")
    assert "was pushed with -2.0" in answer
    assert "cannot go backwards" in answer
    assert sample(await scrape(client), 'done{instance="",job="lambda_a"}') == 5


async def test_put_replaces_and_delete_resets(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    series = 'done{instance="",job="lambda_a"}'
    for _ in range(3):
        assert await post(client, b"# TYPE done counter\ndone 5\n") == "200"
    assert sample(await scrape(client), series) == 15
    assert await post(client, b"# TYPE done counter\ndone 2\n", "PUT") == "200"
    assert sample(await scrape(client), series) == 2
    assert (await client.delete("/metrics/job/lambda_a")).status == 202
    assert await post(client, b"# TYPE done counter\ndone 4\n") == "200"
    assert sample(await scrape(client), series) == 4


async def test_other_jobs_replace_as_the_pushgateway_does(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    for value in (b"5", b"7"):
        body = b"# TYPE done counter\ndone " + value + b"\n"
        assert await post(client, body, job="nightly") == "200"
    assert sample(await scrape(client), 'done{instance="",job="nightly"}') == 7


async def test_the_json_api_says_the_group_aggregates(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    assert await post(client, b"# TYPE done counter\ndone 5\n") == "200"
    assert await post(client, b"# TYPE done counter\ndone 5\n", job="nightly") == "200"
    groups = (await (await client.get("/api/v1/metrics")).json())["data"]
    by_job = {group["labels"]["job"]: group for group in groups}
    assert by_job["lambda_a"]["batchgate_aggregate"] == {
        "counters": "sum",
        "histograms": "sum",
        "gauges": "max",
    }
    assert "batchgate_aggregate" not in by_job["nightly"]


def test_the_config_file_names_aggregating_jobs_and_a_bad_policy() -> None:
    text = (
        "pushgateway:\n"
        "  aggregate:\n"
        "    - {job: 'lambda_*', counters: sum, histograms: sum, gauges: last}\n"
        "    - {job: 'pods_*', gauges: sum}\n"
    )
    settings = load_settings({"config": "b.yaml"}, {}, files(**{"b.yaml": text}))
    assert settings.pushgateway.aggregate == (
        AggregateRule("lambda_*"),
        AggregateRule("pods_*", gauges="sum"),
    )
    text = "pushgateway:\n  aggregate:\n    - {job: 'x', gauges: min}\n"
    with pytest.raises(
        ConfigError,
        match=re.escape("pushgateway.aggregate: entry 1: gauges must be one of last, sum, max"),
    ):
        load_settings({"config": "b.yaml"}, {}, files(**{"b.yaml": text}))
