"""A job instrumented with the real OpenTelemetry SDK exports its metrics at its end to
`POST /v1/metrics`; batchgate exposes them on /metrics with the names and labels the
OpenTelemetry specification's Prometheus compatibility section gives, keeps them across a
restart, and adds delta exports up exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from opentelemetry.metrics import Observation

from tests.collector.otlp.sdk import InstrumentedJob, sample, scrape, url
from tests.helpers import Client, get

SERVICE = {"service.name": "etl", "service.instance.id": "worker-1", "team": "data"}
SCOPE = 'otel_scope_name="batch.job",otel_scope_version="1.0"'


def run_job(base_url: str, *, delta: bool = False, gzip: bool = False, exports: int = 1) -> None:
    job = InstrumentedJob(base_url, SERVICE, delta=delta, gzip=gzip)
    records = job.meter.create_counter("records.processed", unit="{record}", description="Rows")
    queue = job.meter.create_up_down_counter("queue.depth")
    # An observable gauge: the synchronous one is newer than the lowest SDK tested.
    job.meter.create_observable_gauge(
        "memory.usage", callbacks=[lambda _: [Observation(2048)]], unit="By"
    )
    duration = job.meter.create_histogram("step.duration", unit="s")
    for _ in range(exports):
        records.add(10, {"table": "users"})
        queue.add(3)
        queue.add(-1)
        duration.record(0.2)
        duration.record(7.0)
        job.flush()
    job.end()


async def test_a_job_s_metrics_exported_at_its_end_are_on_metrics(client: Client) -> None:
    await asyncio.to_thread(run_job, url(client))
    text = await asyncio.to_thread(scrape, url(client))
    labels = f'instance="worker-1",job="etl",{SCOPE}'
    assert sample(text, f'records_processed_total{{{labels},table="users"}}') == 10
    assert "# TYPE records_processed_total counter" in text
    assert "# HELP records_processed_total Rows" in text
    assert sample(text, f"queue_depth{{{labels}}}") == 2
    assert "# TYPE queue_depth gauge" in text
    assert sample(text, f"memory_usage_bytes{{{labels}}}") == 2048
    assert sample(text, f'step_duration_seconds_bucket{{{labels},le="5"}}') == 1
    assert sample(text, f'step_duration_seconds_bucket{{{labels},le="+Inf"}}') == 2
    assert sample(text, f"step_duration_seconds_sum{{{labels}}}") == 7.2
    assert sample(text, f"step_duration_seconds_count{{{labels}}}") == 2
    # Resource attributes other than the service's name and instance go to target_info.
    (info,) = [line for line in text.splitlines() if line.startswith("target_info{")]
    assert 'team="data"' in info
    assert 'job="etl"' in info
    assert 'instance="worker-1"' in info
    assert 'telemetry_sdk_language="python"' in info
    # The resource is a group, seen as a job in /jobs.
    jobs = await get(client, "/jobs")
    (job,) = [j for j in jobs["jobs"] if j["job"] == "etl"]
    assert job["labels"] == {"instance": "worker-1"}
    assert job["pushgateway"]["last_push_successful"] is True


async def test_cumulative_exports_replace_and_delta_exports_add_up(client: Client) -> None:
    await asyncio.to_thread(run_job, url(client), exports=3)
    text = await asyncio.to_thread(scrape, url(client))
    labels = f'instance="worker-1",job="etl",{SCOPE}'
    # Cumulative: the SDK sends the running total; three exports of +10 are 30.
    assert sample(text, f'records_processed_total{{{labels},table="users"}}') == 30
    assert sample(text, f"step_duration_seconds_count{{{labels}}}") == 6

    # Delta: the SDK sends what changed since its last export; batchgate adds it up.
    await asyncio.to_thread(run_job, url(client), delta=True, gzip=True, exports=4)
    text = await asyncio.to_thread(scrape, url(client))
    # The first delta point starts the series again (it was cumulative), then adds up.
    assert sample(text, f'records_processed_total{{{labels},table="users"}}') == 40
    assert sample(text, f"queue_depth{{{labels}}}") == 8
    assert sample(text, f"step_duration_seconds_count{{{labels}}}") == 8
    assert sample(text, f'step_duration_seconds_bucket{{{labels},le="5"}}') == 4
    assert sample(text, f"step_duration_seconds_sum{{{labels}}}") == 4 * 7.2


async def test_a_restart_keeps_exported_series_and_delta_totals(
    client: Client, start: Callable[..., Awaitable[Client]]
) -> None:
    await asyncio.to_thread(run_job, url(client), delta=True, exports=2)
    await client.close()
    client = await start()
    labels = f'instance="worker-1",job="etl",{SCOPE}'
    text = await asyncio.to_thread(scrape, url(client))
    assert sample(text, f'records_processed_total{{{labels},table="users"}}') == 20
    assert sample(text, f"memory_usage_bytes{{{labels}}}") == 2048
    # Deltas exported after the restart add to the restored totals.
    await asyncio.to_thread(run_job, url(client), delta=True, exports=1)
    text = await asyncio.to_thread(scrape, url(client))
    assert sample(text, f'records_processed_total{{{labels},table="users"}}') == 30
    assert sample(text, f"step_duration_seconds_count{{{labels}}}") == 6
    await client.close()


def delta_stream(base_url: str, exports: int) -> None:
    resource = {"service.name": "stream", "service.instance.id": "s1"}
    job = InstrumentedJob(base_url, resource, delta=True)
    counter = job.meter.create_counter("items")
    for number in range(1, exports + 1):
        counter.add(number)
        job.flush()
    job.end()


async def test_a_delta_stream_of_a_thousand_exports_adds_up_exactly(client: Client) -> None:
    await asyncio.to_thread(delta_stream, url(client), 1000)
    text = await asyncio.to_thread(scrape, url(client))
    series = f'items_total{{instance="s1",job="stream",{SCOPE}}}'
    assert sample(text, series) == 1000 * 1001 / 2
