"""A recurring silence posted to /silences (a maintenance window) mutes a failing job while
its window is open, shows as pending once it closes, and the alert is then sent to the real
webhook receiver."""

from __future__ import annotations

from batchgate.rules.payloads import format_time
from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, checked, evaluate_rules, get, push

# The clock starts at 2023-11-14T22:13:20Z, a Tuesday, 23:13:20 in Berlin.
WINDOW = {"schedule": "0 23 * * 2", "duration": "1h", "timezone": "Europe/Berlin"}


async def test_a_weekly_window_mutes_while_open_and_not_after(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver))
    body = {
        "matchers": [{"name": "job", "value": "etl_.*", "isRegex": True}],
        "startsAt": format_time(clock.now - 3600),
        "endsAt": format_time(clock.now + 365 * 86400),
        "createdBy": "dba",
        "comment": "weekly database maintenance",
        "recurrence": WINDOW,
    }
    silence_id = (await checked(await client.post("/silences", json=body)))["silenceID"]
    (listed,) = await get(client, "/silences")
    assert listed["recurrence"] == WINDOW
    assert listed["status"] == {"state": "active"}

    await push(client, {"job": "etl_orders", "event": "fail"})
    await push(client, {"job": "backup", "event": "fail"})  # not matched: notified
    (message,) = await receiver.wait_for(1)
    assert message["alerts"][0]["labels"]["job"] == "backup"
    (muted,) = (await get(client, "/alerts", silenced="true"))["alerts"]
    assert muted["silenced_by"] == [silence_id]

    clock.advance(47 * 60)  # 00:00:20 Wednesday in Berlin: the window has closed
    await evaluate_rules(client)
    _, late = await receiver.wait_for(2)
    assert late["alerts"][0]["labels"]["job"] == "etl_orders"
    (listed,) = await get(client, "/silences")
    assert listed["status"] == {"state": "pending"}  # until next Tuesday 23:00


async def test_a_bad_recurrence_is_refused_naming_each_field(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with()
    body = {
        "matchers": [{"name": "job", "value": "etl"}],
        "startsAt": format_time(clock.now),
        "endsAt": format_time(clock.now + 86400),
        "createdBy": "dba",
        "comment": "x",
        "recurrence": {"schedule": "0 2 * *", "duration": "0s"},
    }
    answer = await checked(await client.post("/silences", json=body), 400)
    assert sorted(detail["field"] for detail in answer["details"]) == [
        "recurrence.duration",
        "recurrence.schedule",
    ]
    assert await get(client, "/silences") == []
