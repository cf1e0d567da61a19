"""The outbox survives a restart: a notification pending when batchgate stops is delivered
after it starts again, once; and a firing alert restored from the database is not notified
again as new."""

from __future__ import annotations

import asyncio

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, get, push


async def test_a_notification_pending_at_stop_is_delivered_after_the_restart_once(
    start_with: StartWith, clock: Clock
) -> None:
    receiver = WebhookReceiver()  # down while the failure happens
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "fail", "message": "tape jammed"})
    await client.close()

    await receiver.start()
    try:
        client = await start_with(receivers=webhook(receiver))
        (message,) = await receiver.wait_for(1)
        assert message["alerts"][0]["labels"]["alertname"] == "JobFailed"
        assert message["alerts"][0]["status"] == "firing"
        await asyncio.sleep(0.3)
        await client.close()

        client = await start_with(receivers=webhook(receiver))
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1, "delivered, then restarted: not sent again"
        (alert,) = (await get(client, "/alerts"))["alerts"]
        assert alert["state"] == "firing"
    finally:
        await receiver.stop()


async def test_a_firing_alert_survives_a_restart_and_resolves_after_it(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "fail"})
    (firing,) = await receiver.wait_for(1)
    before = (await get(client, "/alerts"))["alerts"]
    await client.close()

    clock.advance(600)
    client = await start_with(receivers=webhook(receiver))
    after = (await get(client, "/alerts"))["alerts"]
    assert after == before
    await push(client, {"job": "backup", "event": "success"})
    _, resolved = await receiver.wait_for(2)
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["startsAt"] == firing["alerts"][0]["startsAt"]
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 2
