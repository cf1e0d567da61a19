"""End to end, inhibit_rules: while the database's alert fires, the failure of a job that
depends on it (same env) is listed as inhibited on /alerts and the dashboard and not sent to
the real webhook receiver; when the database recovers, the held alert is sent."""

from __future__ import annotations

import asyncio

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, evaluate_rules, get, push

RULES = """
rules:
  - {name: DatabaseDown, kind: failure, match: {job: database}, severity: critical}
  - {name: JobFailed, kind: failure, match: {job: "etl_*"}}
inhibit_rules:
  - source_matchers: ['alertname="DatabaseDown"']
    target_matchers: ['alertname="JobFailed"', 'severity!="critical"']
    equal: [env]
"""
PROD = {"env": "prod"}


async def test_a_held_alert_is_listed_as_inhibited_and_sent_once_the_parent_resolves(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    await push(client, {"job": "database", "labels": PROD, "event": "fail"})
    (parent_message,) = await receiver.wait_for(1)
    assert parent_message["alerts"][0]["labels"]["alertname"] == "DatabaseDown"

    clock.advance(60)
    await push(client, {"job": "etl_orders", "labels": PROD, "event": "fail"})
    await push(client, {"job": "etl_orders", "labels": {"env": "dev"}, "event": "fail"})
    (_, dev_message) = await receiver.wait_for(2)  # the other env is not held back
    assert dev_message["alerts"][0]["labels"]["env"] == "dev"
    await evaluate_rules(client)

    parent = (await get(client, "/alerts", alertname="DatabaseDown"))["alerts"][0]
    (held,) = (await get(client, "/alerts", inhibited="true"))["alerts"]
    assert (held["alertname"], held["labels"]["env"], held["state"]) == (
        "JobFailed", "prod", "firing",
    )  # fmt: skip
    assert held["inhibited_by"] == [parent["id"]]
    assert held["notified"] == []
    page = await (await client.get("/ui/alerts")).text()
    assert 'id="alerts-inhibited"' in page
    assert "inhibited by 1 firing alert" in page
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 2

    clock.advance(60)
    await push(client, {"job": "database", "labels": PROD, "event": "success"})
    await evaluate_rules(client)
    messages = await receiver.wait_for(4)
    sent = sorted(
        (alert["labels"]["alertname"], alert["status"])
        for message in messages[2:]
        for alert in message["alerts"]
    )
    assert sent == [("DatabaseDown", "resolved"), ("JobFailed", "firing")]
    assert (await get(client, "/alerts", inhibited="true"))["alerts"] == []
