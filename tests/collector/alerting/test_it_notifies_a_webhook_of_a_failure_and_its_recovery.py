"""End to end with a real webhook receiver: a failing run produces a firing notification in
Alertmanager's webhook v4 shape, and the next success a resolved one."""

from __future__ import annotations

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, push

RULES = """
rules:
  - name: JobFailed
    match: {job: "etl_*", labels: {env: prod}}
    kind: failure
    severity: critical
    annotations: {summary: "{{ job }} failed: {{ run.message }}"}
"""


async def test_it_sends_firing_then_resolved(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    job = {"job": "etl_nightly", "labels": {"env": "prod"}}
    await push(client, {**job, "event": "start", "run_id": "r1"})
    clock.advance(60)
    await push(client, {**job, "event": "fail", "run_id": "r1", "message": "disk full"})

    (firing,) = await receiver.wait_for(1)
    assert firing["version"] == "4"
    assert firing["status"] == "firing"
    assert firing["receiver"] == "ops"
    assert firing["externalURL"] == "http://batchgate.test:9091"
    assert firing["groupLabels"] == {"alertname": "JobFailed", "job": "etl_nightly"}
    assert firing["groupKey"] == ('{}/{receiver="ops"}:{alertname="JobFailed", job="etl_nightly"}')
    assert firing["truncatedAlerts"] == 0
    (alert,) = firing["alerts"]
    labels = {"alertname": "JobFailed", "env": "prod", "job": "etl_nightly", "severity": "critical"}
    assert alert["labels"] == labels
    assert firing["commonLabels"] == labels
    assert alert["annotations"] == {"summary": "etl_nightly failed: disk full"}
    assert alert["status"] == "firing"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == "http://batchgate.test:9091/ui/jobs/etl_nightly"
    assert len(alert["fingerprint"]) == 16

    clock.advance(3600)
    await push(client, {**job, "event": "start", "run_id": "r2"})
    clock.advance(60)
    await push(client, {**job, "event": "success", "run_id": "r2"})

    _, resolved = await receiver.wait_for(2)
    assert resolved["status"] == "resolved"
    (alert_resolved,) = resolved["alerts"]
    assert alert_resolved["status"] == "resolved"
    assert alert_resolved["labels"] == labels
    assert alert_resolved["fingerprint"] == alert["fingerprint"]
    assert alert_resolved["startsAt"] == alert["startsAt"]
    assert alert_resolved["endsAt"] != "0001-01-01T00:00:00Z"
    assert len(receiver.received) == 2


async def test_a_job_the_rule_does_not_match_is_not_notified(
    start_with: StartWith, receiver: WebhookReceiver
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    await push(client, {"job": "etl_nightly", "labels": {"env": "dev"}, "event": "fail"})
    await push(client, {"job": "backup", "event": "fail"})
    await push(client, {"job": "etl_nightly", "labels": {"env": "prod"}, "event": "fail"})
    (message,) = await receiver.wait_for(1)
    assert message["alerts"][0]["labels"]["env"] == "prod"
