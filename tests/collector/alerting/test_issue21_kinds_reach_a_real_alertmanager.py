"""The alerts of issue 21's kinds reach a real Alertmanager (Debian's prometheus-alertmanager,
on loopback) through the outbox, with the annotation that says what is wrong, and go when
they resolve: an empty backup (outcome) and a fleet with a silent host (fleet)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.collector.alerting.conftest import StartWith
from tests.collector.alerting.test_a_real_alertmanager_receives_and_resolves_alerts import (
    _alerts,
    alertmanager,
)
from tests.helpers import Clock, evaluate_rules, push, until

__all__ = ["alertmanager"]  # the fixture, used by name

RULES = """
rules:
  - {name: BackupEmpty, kind: outcome, done: {below: 1}, match: {job: backup}}
  - {name: SyncFleet, kind: fleet, label: host, window: 1h, match: {job: sync}}
"""


async def test_outcome_and_fleet_alerts_arrive_and_go(
    start_with: StartWith, alertmanager: str, clock: Clock
) -> None:
    clock.now = time.time() - 7200  # two hours ago by Alertmanager's clock, which judges ends
    receivers = f'  - {{name: am, alertmanager: {{url: "{alertmanager}"}}}}\n'
    client = await start_with(receivers=receivers, rules=RULES)
    for host in ("a", "b"):
        await push(client, {"job": "sync", "labels": {"host": host}, "event": "success"})
    clock.now = time.time() - 60  # the first successes have left the hour
    await push(client, {"job": "sync", "labels": {"host": "a"}, "event": "success"})
    await push(client, {"job": "backup", "event": "success", "progress": {"done": 0}})
    await evaluate_rules(client)

    async def arrived() -> list[dict[str, Any]] | None:
        alerts = await asyncio.to_thread(_alerts, alertmanager)
        return alerts if len(alerts) == 2 else None

    received = {a["labels"]["alertname"]: a for a in await until(arrived, 10)}
    assert received["BackupEmpty"]["annotations"] == {"detail": "done 0 below 1"}
    assert received["SyncFleet"]["annotations"] == {
        "detail": "1 of 2 hosts succeeded within 1h; missing: b"
    }
    assert received["SyncFleet"]["labels"] == {
        "alertname": "SyncFleet", "job": "sync", "severity": "warning",
    }  # fmt: skip

    clock.now = time.time()
    await push(client, {"job": "sync", "labels": {"host": "b"}, "event": "success"})
    await push(client, {"job": "backup", "event": "success", "progress": {"done": 10}})
    await evaluate_rules(client)

    async def gone() -> bool:
        return await asyncio.to_thread(_alerts, alertmanager) == []

    await until(gone, 10)
