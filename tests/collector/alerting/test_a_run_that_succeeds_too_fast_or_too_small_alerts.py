"""End to end, kind outcome: a backup that "succeeds" empty in 2 seconds reaches a real webhook
receiver naming the assertions it failed, is listed on /alerts and the dashboard, can be
silenced, and resolves when a good backup follows."""

from __future__ import annotations

import asyncio

from batchgate.rules.payloads import format_time
from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, checked, get, push

RULES = """
rules:
  - name: BackupTooSmall
    match: {job: backup}
    kind: outcome
    duration: {below: 1m}
    done: {below: 1000}
    metrics: {bytes_written: {below: 1MB}}
    severity: critical
"""
EMPTY = "duration 2s below 1m; done 0 below 1000; metrics.bytes_written 0 below 1e+06"


async def _backup(client, clock, run_id, seconds, done, written, job="backup"):
    await push(client, {"job": job, "event": "start", "run_id": run_id})
    clock.advance(seconds)
    await push(
        client,
        {"job": job, "event": "success", "run_id": run_id, "progress": {"done": done},
         "metrics": {"bytes_written": written}},
    )  # fmt: skip


async def test_an_empty_backup_is_notified_listed_and_resolved_by_a_good_one(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    await _backup(client, clock, "r1", 2, 0, 0)

    (firing,) = await receiver.wait_for(1)
    (alert,) = firing["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "BackupTooSmall", "job": "backup", "run_id": "r1", "severity": "critical",
    }  # fmt: skip
    assert alert["annotations"] == {"detail": EMPTY}

    (listed,) = (await get(client, "/alerts"))["alerts"]
    assert (listed["state"], listed["value"], listed["annotations"]) == (
        "firing", 2.0, {"detail": EMPTY},
    )  # fmt: skip
    page = await (await client.get("/ui/alerts")).text()
    assert "BackupTooSmall" in page
    assert "done 0 below 1000" in page

    clock.advance(3600)  # within the repeat interval: the next message is the resolution
    await _backup(client, clock, "r2", 1200, 250_000, 3e9)
    _, resolved = await receiver.wait_for(2)
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["labels"]["run_id"] == "r1"


async def test_a_silenced_job_is_listed_but_not_notified(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(
        receivers=webhook(receiver), rules=RULES.replace("{job: backup}", '{job: "backup*"}')
    )
    silence = {
        "matchers": [{"name": "job", "value": "backup", "isRegex": False, "isEqual": True}],
        "startsAt": format_time(clock.now - 1),
        "endsAt": format_time(clock.now + 3600),
        "createdBy": "alice",
        "comment": "migrating the backup host",
    }
    await checked(await client.post("/silences", json=silence))
    await _backup(client, clock, "r1", 2, 0, 0)
    await _backup(client, clock, "r2", 2, 0, 0, job="backup_eu")

    (message,) = await receiver.wait_for(1)  # the loud one: the silenced one was decided too
    assert message["alerts"][0]["labels"]["job"] == "backup_eu"
    silenced = (await get(client, "/alerts", silenced="true"))["alerts"]
    assert [(a["job"], a["state"]) for a in silenced] == [("backup", "firing")]
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 1
