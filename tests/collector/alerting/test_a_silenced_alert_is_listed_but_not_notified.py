"""A silence mutes notifications; the alert stays listed, marked with the silence. When the
silence is expired while the alert still fires, receivers are told then."""

from __future__ import annotations

import asyncio

from batchgate.rules.payloads import format_time
from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client, Clock, checked, get, push


async def _silence(client: Client, clock: Clock, job: str) -> str:
    body = {
        "matchers": [{"name": "job", "value": job, "isRegex": False, "isEqual": True}],
        "startsAt": format_time(clock.now - 1),
        "endsAt": format_time(clock.now + 3600),
        "createdBy": "alice",
        "comment": "maintenance",
    }
    answer = await checked(await client.post("/silences", json=body))
    return str(answer["silenceID"])


async def test_it_mutes_the_alert_and_lists_it_as_silenced(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver))
    silence_id = await _silence(client, clock, "backup")

    await push(client, {"job": "backup", "event": "fail"})
    await push(client, {"job": "etl", "event": "fail"})
    (message,) = await receiver.wait_for(1)
    assert message["alerts"][0]["labels"]["job"] == "etl"

    silenced = (await get(client, "/alerts", silenced="true"))["alerts"]
    assert [(a["job"], a["state"], a["silenced"], a["silenced_by"]) for a in silenced] == [
        ("backup", "firing", True, [silence_id])
    ]
    assert silenced[0]["notified"] == []
    loud = (await get(client, "/alerts", silenced="false"))["alerts"]
    assert [a["job"] for a in loud] == ["etl"]
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 1

    await checked(await client.delete(f"/silences/{silence_id}"))
    _, late = await receiver.wait_for(2)
    assert late["alerts"][0]["labels"]["job"] == "backup"
    assert late["status"] == "firing"
    (backup,) = (await get(client, "/alerts", job="backup"))["alerts"]
    assert backup["silenced"] is False


async def test_a_silence_set_while_an_alert_fires_marks_it_at_once(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "fail"})
    await receiver.wait_for(1)
    silence_id = await _silence(client, clock, "backup")
    (alert,) = (await get(client, "/alerts"))["alerts"]
    assert alert["silenced_by"] == [silence_id]

    # Resolving is still told to the receiver that was told it fired: no ghost incident.
    await push(client, {"job": "backup", "event": "success"})
    _, resolved = await receiver.wait_for(2)
    assert resolved["status"] == "resolved"
