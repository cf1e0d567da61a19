"""/metrics: `batchgate_alerts` with every alert's labels and state, the rules' health, and
the outbox's; promtool accepts it all."""

from __future__ import annotations

import asyncio
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client, Clock, evaluate_rules, get, need_program, push

RULES = """
rules:
  - {name: JobFailed, kind: failure, severity: critical, labels: {team: data}}
  - {name: TooLong, kind: max_runtime, above: 1h, for: 10m}
"""


async def _samples(client: Client) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = await (await client.get("/metrics")).text()
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


async def test_it_exposes_each_alert_with_its_labels(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(rules=RULES, receivers=webhook(receiver))
    await push(client, {"job": "etl", "labels": {"env": "prod"}, "event": "start",
                        "run_id": "e1", "lost_after": 86400})  # fmt: skip
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "fail"})
    clock.advance(3601)
    await receiver.wait_for(1)

    await evaluate_rules(client)  # the periodic pass sees the run pass its hour
    assert len((await get(client, "/alerts"))["alerts"]) == 2

    samples = await _samples(client)
    assert sorted(samples["batchgate_alerts"], key=lambda s: s[0]["alertname"]) == [
        (
            {"alertname": "JobFailed", "alertstate": "firing", "host": "db1", "job": "backup",
             "severity": "critical", "team": "data"},
            1.0,
        ),
        (
            {"alertname": "TooLong", "alertstate": "pending", "env": "prod", "job": "etl",
             "run_id": "e1", "severity": "warning"},
            1.0,
        ),
    ]  # fmt: skip
    # The file's two, and the three that judge schedules declared by the jobs.
    assert samples["batchgate_rules"] == [({}, 5.0)]
    assert samples["batchgate_rules_last_reload_successful"] == [({}, 1.0)]
    assert samples["batchgate_notifications_total"] == [
        ({"receiver": "ops", "outcome": "delivered"}, 1.0)
    ]
    assert samples["batchgate_notifications_queue_length"] == [({"receiver": "ops"}, 0.0)]
    events = {
        labels["pass"]: value
        for labels, value in samples["batchgate_rule_evaluation_duration_seconds_count"]
    }
    assert events["event"] == 2  # one per push
    assert events["full"] >= 1

    promtool = need_program("promtool")
    text = await (await client.get("/metrics")).text()
    checked = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=text, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
