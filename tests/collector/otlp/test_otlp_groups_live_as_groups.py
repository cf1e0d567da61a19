"""An OTLP resource's group lives as every group does: an `absent` rule covers it, it
expires when not exported for the configured time, and deleting it through the Pushgateway
API resets it (a delta stream starts again from zero)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from batchgate.collector.pushgateway import ExpiryRule
from batchgate.collector.settings import PushgatewaySettings
from tests.collector.alerting.conftest import StartWith
from tests.collector.otlp.bodies import DELTA, NOW_NS, as_protobuf, counter, gauge, request
from tests.collector.otlp.sdk import sample
from tests.helpers import Client, Clock, evaluate_rules, get, sweep

SERIES = 'sent_total{instance="i-1",job="mailer",otel_scope_name="billing.meter"}'


def delta(value: int, start: int, time: int) -> bytes:
    point = counter("sent", value, temporality=DELTA, start=start, time=time)
    return as_protobuf(request([point], service="mailer", **{"service.instance.id": "i-1"}))


async def export(client: Client, body: bytes) -> None:
    response = await client.post(
        "/v1/metrics", data=body, headers={"Content-Type": "application/x-protobuf"}
    )
    assert response.status == 200, await response.read()


async def scrape(client: Client) -> str:
    return await (await client.get("/metrics")).text()


async def test_an_absent_rule_fires_for_a_silent_otlp_group(
    start_with: StartWith, clock: Clock
) -> None:
    rules = "rules:\n  - {name: Silent, kind: absent, absent_for: 1h, match: {job: mailer}}\n"
    client = await start_with(rules=rules)
    await export(client, delta(1, NOW_NS, NOW_NS + 1))
    clock.advance(3601)
    await evaluate_rules(client)
    (alert,) = (await get(client, "/alerts", state="firing"))["alerts"]
    assert (alert["alertname"], alert["job"], alert["job_labels"]) == (
        "Silent",
        "mailer",
        {"instance": "i-1"},
    )
    await export(client, delta(1, NOW_NS + 1, NOW_NS + 2))
    assert [a["state"] for a in (await get(client, "/alerts"))["alerts"]] == ["resolved"]


async def test_an_otlp_group_expires_like_a_pushed_one(
    start: Callable[..., Awaitable[Client]], clock: Clock
) -> None:
    expiry = PushgatewaySettings(expire=(ExpiryRule("mailer", 600.0),))
    client = await start(pushgateway=expiry)
    await export(client, delta(5, NOW_NS, NOW_NS + 1))
    assert sample(await scrape(client), SERIES) == 5
    clock.advance(601)
    sweep(client)
    assert "sent_total" not in await scrape(client)
    assert not [job for job in (await get(client, "/jobs"))["jobs"] if job["job"] == "mailer"]
    # Exported again, it starts from what this export says.
    await export(client, delta(2, NOW_NS + 1, NOW_NS + 2))
    assert sample(await scrape(client), SERIES) == 2


async def test_deleting_the_group_resets_its_totals(client: Client) -> None:
    await export(client, delta(5, NOW_NS, NOW_NS + 1))
    response = await client.delete("/metrics/job/mailer/instance/i-1")
    assert response.status == 202
    assert "sent_total" not in await scrape(client)
    await export(client, delta(3, NOW_NS + 1, NOW_NS + 2))
    assert sample(await scrape(client), SERIES) == 3


async def test_a_pushgateway_put_into_the_group_leaves_no_stale_delta_total(
    client: Client,
) -> None:
    await export(client, delta(5, NOW_NS, NOW_NS + 1))
    response = await client.put(
        "/metrics/job/mailer/instance/i-1", data=b"# TYPE queue_depth gauge\nqueue_depth 4\n"
    )
    assert response.status == 200
    assert "sent_total" not in await scrape(client)
    # The PUT replaced the group: the delta stream starts again from this export.
    await export(client, delta(3, NOW_NS + 1, NOW_NS + 2))
    exposition = await scrape(client)
    assert sample(exposition, SERIES) == 3
    assert sample(exposition, 'queue_depth{instance="i-1",job="mailer"}') == 4


async def test_a_pushgateway_post_of_the_series_is_what_the_next_delta_adds_to(
    client: Client,
) -> None:
    await export(client, delta(5, NOW_NS, NOW_NS + 1))
    text = b'# TYPE sent_total counter\nsent_total{otel_scope_name="billing.meter"} 100\n'
    response = await client.post("/metrics/job/mailer/instance/i-1", data=text)
    assert response.status == 200
    assert sample(await scrape(client), SERIES) == 100
    await export(client, delta(3, NOW_NS + 1, NOW_NS + 2))
    assert sample(await scrape(client), SERIES) == 103


async def test_an_otlp_group_is_a_job_of_kind_otlp_before_and_after_a_restart(
    client: Client, start: Callable[..., Awaitable[Client]]
) -> None:
    gauge_only = as_protobuf(
        request([gauge("queue.depth", 2.0)], service="loader", **{"service.instance.id": "l1"})
    )
    await export(client, delta(5, NOW_NS, NOW_NS + 1))
    await export(client, gauge_only)
    response = await client.put("/metrics/job/backup", data=b"backup_files 3\n")
    assert response.status == 200

    async def kinds(client: Client, **query: Any) -> dict[str, str]:
        return {job["job"]: job["kind"] for job in (await get(client, "/jobs", **query))["jobs"]}

    expected = {"mailer": "otlp", "loader": "otlp", "backup": "pushgateway"}
    assert await kinds(client) == expected
    assert await kinds(client, kind="otlp") == {"mailer": "otlp", "loader": "otlp"}
    assert await kinds(client, kind="pushgateway") == {"backup": "pushgateway"}
    await client.close()
    restarted = await start()
    assert await kinds(restarted) == expected
    assert await kinds(restarted, kind="otlp") == {"mailer": "otlp", "loader": "otlp"}
    page = await (await restarted.get("/ui/jobs")).text()
    assert 'title="the group of an OpenTelemetry resource (OTLP)">otlp</span>' in page
    response = await restarted.get("/jobs", params={"kind": "grpc"})
    assert response.status == 400
    assert "pushgateway or otlp" in await response.text()


async def test_a_rule_selects_otlp_groups_by_job_kind(start_with: StartWith, clock: Clock) -> None:
    rules = "rules:\n  - {name: Silent, kind: absent, absent_for: 1h, match: {job_kind: otlp}}\n"
    client = await start_with(rules=rules)
    await export(client, delta(1, NOW_NS, NOW_NS + 1))
    response = await client.put("/metrics/job/backup", data=b"backup_files 3\n")
    assert response.status == 200
    clock.advance(3601)
    await evaluate_rules(client)
    alerts = (await get(client, "/alerts", state="firing"))["alerts"]
    assert [(alert["alertname"], alert["job"]) for alert in alerts] == [("Silent", "mailer")]
