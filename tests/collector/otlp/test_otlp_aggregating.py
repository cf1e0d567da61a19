"""OTLP resources of a job matching `pushgateway.aggregate` add up into one group: many
instances of a service (serverless functions) exporting deltas give one series set, their
sum, kept across a restart; cumulative points, which cannot be added, are refused with the
reason."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from opentelemetry.metrics import Observation

from batchgate.collector.pushgateway import AggregateRule
from batchgate.collector.settings import PushgatewaySettings
from tests.collector.otlp.bodies import as_json, counter, request, response_from
from tests.collector.otlp.sdk import InstrumentedJob, sample, scrape, url
from tests.helpers import Client

Start = Callable[..., Awaitable[Client]]
AGGREGATE = PushgatewaySettings(aggregate=(AggregateRule("resize*", gauges="max"),))
SCOPE = 'otel_scope_name="batch.job",otel_scope_version="1.0"'


def invocation(base_url: str, number: int) -> None:
    """One function instance: its own instance id, deltas, exported at its end."""
    resource = {"service.name": "resize", "service.instance.id": f"fn-{number}"}
    job = InstrumentedJob(base_url, resource, delta=True)
    job.meter.create_counter("images").add(number, {"size": "small"})
    job.meter.create_histogram("work", unit="s").record(number / 10)
    job.meter.create_observable_gauge(
        "peak.memory", callbacks=[lambda _: [Observation(100.0 * number)]], unit="By"
    )
    job.end()


def invocations(base_url: str, numbers: range) -> None:
    for number in numbers:
        invocation(base_url, number)


async def test_instances_add_up_into_one_group_kept_across_a_restart(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    await asyncio.to_thread(invocations, url(client), range(1, 6))
    await client.close()
    client = await start(pushgateway=AGGREGATE)
    await asyncio.to_thread(invocations, url(client), range(6, 11))
    text = await asyncio.to_thread(scrape, url(client))
    labels = f'instance="",job="resize",{SCOPE}'
    assert sample(text, f'images_total{{{labels},size="small"}}') == 55  # 1 + ... + 10
    assert sample(text, f"work_seconds_count{{{labels}}}") == 10
    assert sample(text, f"peak_memory_bytes{{{labels}}}") == 1000  # gauges: max
    assert "fn-" not in text  # one group for every instance, no target_info per instance
    await client.close()


async def test_cumulative_points_are_refused_with_the_reason(start: Start) -> None:
    client = await start(pushgateway=AGGREGATE)
    body = as_json(request([counter("images", 3)], service="resize"))
    response = await client.post(
        "/v1/metrics", data=body, headers={"Content-Type": "application/json"}
    )
    answer = response_from(await response.read(), "application/json")
    assert answer.partial_success.rejected_data_points == 1
    assert "export with delta temporality" in answer.partial_success.error_message
