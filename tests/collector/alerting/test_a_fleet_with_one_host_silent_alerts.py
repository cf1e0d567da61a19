"""End to end, kind fleet: three hosts back up every day; when one stays silent, one alert for
the fleet names it, through the outbox to a real webhook receiver, and on /alerts; it resolves
when the host succeeds again."""

from __future__ import annotations

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, evaluate_rules, get, push

RULES = """
rules:
  - {name: BackupFleet, kind: fleet, label: host, window: 1d, match: {job: backup}}
"""


async def _backup(client, host: str) -> None:
    await push(client, {"job": "backup", "labels": {"host": host}, "event": "success"})


async def test_the_silent_host_is_named_and_the_alert_resolves_when_it_succeeds(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    for host in ("db1", "db2", "db3"):
        await _backup(client, host)
    await evaluate_rules(client)
    assert (await get(client, "/alerts"))["alerts"] == []

    clock.advance(86400 - 600)
    await _backup(client, "db1")
    await _backup(client, "db2")
    clock.advance(601)  # the first night's successes have left the window; db3 said nothing
    await evaluate_rules(client)

    (message,) = await receiver.wait_for(1)
    (alert,) = message["alerts"]
    assert alert["labels"] == {"alertname": "BackupFleet", "job": "backup", "severity": "warning"}
    assert alert["annotations"] == {"detail": "2 of 3 hosts succeeded within 1d; missing: db3"}
    (listed,) = (await get(client, "/alerts"))["alerts"]
    assert (listed["job"], listed["value"]) == ("backup", 2.0)

    await _backup(client, "db3")
    _, resolved = await receiver.wait_for(2)
    assert resolved["status"] == "resolved"
