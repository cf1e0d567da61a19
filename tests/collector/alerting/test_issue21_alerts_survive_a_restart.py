"""After a restart, the alerts of issue 21's kinds are judged again from what the store kept
(a finished run's readings and metrics, a fleet's members) and stay firing, not notified again:
an empty backup (outcome), a fleet with a silent host, and an inhibited child."""

from __future__ import annotations

import asyncio

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, evaluate_rules, get, push

RULES = """
rules:
  - name: BackupEmpty
    kind: outcome
    done: {below: 1}
    metrics: {bytes: {below: 1}}
    match: {job: backup}
  - {name: SyncFleet, kind: fleet, label: host, window: 1h, match: {job: sync}}
  - {name: JobFailed, kind: failure, match: {job: [database, etl]}}
inhibit_rules:
  - {source_matchers: ['job="database"'], target_matchers: ['job="etl"']}
"""


async def test_they_stay_firing_across_a_restart_without_a_second_notification(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    for host in ("a", "b"):
        await push(client, {"job": "sync", "labels": {"host": host}, "event": "success"})
    clock.advance(3000)
    await push(client, {"job": "sync", "labels": {"host": "a"}, "event": "success"})
    await push(
        client,
        {"job": "backup", "event": "success", "progress": {"done": 0}, "metrics": {"bytes": 0}},
    )
    await push(client, {"job": "database", "event": "fail"})
    await push(client, {"job": "etl", "event": "fail"})
    clock.advance(700)  # host b's success has left the hour
    await evaluate_rules(client)
    await receiver.wait_for(3)  # empty backup, fleet, database; etl is held back
    before = sorted(
        (a["alertname"], a["job"], a["state"], a["inhibited"], a["annotations"].get("detail"))
        for a in (await get(client, "/alerts"))["alerts"]
    )
    await client.close()

    clock.advance(60)
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    await evaluate_rules(client)
    after = sorted(
        (a["alertname"], a["job"], a["state"], a["inhibited"], a["annotations"].get("detail"))
        for a in (await get(client, "/alerts"))["alerts"]
    )
    assert after == before
    assert (
        "BackupEmpty",
        "backup",
        "firing",
        False,
        "done 0 below 1; metrics.bytes 0 below 1",
    ) in after
    assert ("JobFailed", "etl", "firing", True, None) in after
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 3
