"""A receiver that is down, or answers errors, gets what is due once it is back: retried with
backoff, delivered once, in order."""

from __future__ import annotations

import asyncio

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client, Clock, get, push, until


async def _metric(client: Client, line_start: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_receiver_that_was_down_gets_the_alert_when_it_comes_back(
    start_with: StartWith, clock: Clock
) -> None:
    receiver = WebhookReceiver()  # not started: connections are refused
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "fail", "message": "tape jammed"})

    async def retried() -> bool:
        return await _metric(client, 'batchgate_notifications_total{outcome="failed"') >= 2

    await until(retried)
    health = await get(client, "/health")
    assert health["status"] == "degraded"
    assert any(reason["check"] == "notifications" for reason in health["reasons"])
    queued = 'batchgate_notifications_queue_length{receiver="ops"}'
    assert await _metric(client, queued) == 1

    await receiver.start()
    try:
        (message,) = await receiver.wait_for(1)
        assert message["alerts"][0]["labels"]["alertname"] == "JobFailed"
        await asyncio.sleep(0.5)  # longer than the backoff: a second delivery would be here
        assert len(receiver.received) == 1
        assert await _metric(client, queued) == 0
        assert (await get(client, "/health"))["status"] == "healthy"
    finally:
        await receiver.stop()


async def test_server_errors_are_retried_in_order(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    receiver.status = 503
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "fail"})
    clock.advance(60)
    await push(client, {"job": "backup", "event": "success"})

    async def refused_twice() -> bool:
        return receiver.refused >= 2

    await until(refused_twice)
    receiver.status = 200
    firing, resolved = await receiver.wait_for(2)
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 2


async def test_a_receiver_refusing_the_request_is_not_retried_and_it_is_counted(
    start_with: StartWith, receiver: WebhookReceiver
) -> None:
    receiver.status = 400
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "fail"})

    async def dropped() -> bool:
        return (
            await _metric(
                client, 'batchgate_notifications_dropped_total{reason="rejected",receiver="ops"}'
            )
            == 1
        )

    await until(dropped)
    assert receiver.refused == 1
    health = await get(client, "/health")
    assert [r["check"] for r in health["reasons"]] == ["notifications_dropped"]
