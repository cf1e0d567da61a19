"""End to end, kind deadline: an hourly report that has not succeeded 30 minutes after its
scheduled time reaches a real webhook receiver, is listed on /alerts, and resolves when the
run succeeds."""

from __future__ import annotations

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, evaluate_rules, get, push

# The clock starts at 2023-11-14T22:13:20Z: the next hourly tick is 23:00, due by 23:30.
TO_THE_DEADLINE = 46 * 60 + 40 + 30 * 60

RULES = """
rules:
  - name: ReportLate
    match: {job: report}
    kind: deadline
    schedule: "0 * * * *"
    finish_within: 30m
    severity: critical
    annotations: {summary: "{{ job }} not done {{ value | duration }} after its deadline"}
"""


async def test_a_report_still_running_at_its_deadline_is_notified_then_resolved(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    await push(client, {"job": "report", "event": "success", "run_id": "r0"})
    clock.advance(TO_THE_DEADLINE - 30 * 60 - 30)  # 22:59:30, the 23:00 run starts (clock skew)
    await push(client, {"job": "report", "event": "start", "run_id": "r1"})
    clock.advance(30 * 60 + 30 - 1)
    await evaluate_rules(client)
    assert (await get(client, "/alerts"))["alerts"] == []

    clock.advance(61)  # 23:30:00 + 60 s
    await evaluate_rules(client)
    (firing,) = await receiver.wait_for(1)
    (alert,) = firing["alerts"]
    assert alert["labels"] == {"alertname": "ReportLate", "job": "report", "severity": "critical"}
    assert alert["annotations"] == {"summary": "report not done 1m after its deadline"}
    assert alert["startsAt"] == "2023-11-14T23:31:00Z"  # when the pass saw it fire
    (listed,) = (await get(client, "/alerts"))["alerts"]
    assert listed["state"] == "firing"

    clock.advance(60)
    await push(client, {"job": "report", "event": "success", "run_id": "r1"})
    _, resolved = await receiver.wait_for(2)
    assert resolved["status"] == "resolved"
