"""A receiver that hangs holds up only its own deliveries: pushes are answered as fast as
without it, and its queue is bounded (the oldest dropped, counted, and said in /health)."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from tests.collector.alerting.conftest import FAST_RETRIES, StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client, Clock, get, push, until

PUSH_TIMEOUT = 2.0


async def _timed_failures(client: Client, count: int, prefix: str) -> list[float]:
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        await push(client, {"job": f"{prefix}_{index}", "event": "fail"})
        latencies.append(time.perf_counter() - started)
    return latencies


async def _metric(client: Client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def test_pushes_stay_fast_while_the_receiver_hangs(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    receiver.hang = True
    client = await start_with(
        receivers=webhook(receiver, extra=", timeout: 60s"),
        notifications=replace(FAST_RETRIES, queue_capacity=50),
    )
    latencies = await _timed_failures(client, 200, "job")

    assert receiver.received == []  # still hanging on the first request
    assert max(latencies) < PUSH_TIMEOUT, max(latencies)
    assert statistics.median(latencies) < 0.1, statistics.median(latencies)
    assert await _metric(client, "batchgate_notifications_queue_length") == 50
    dropped = await _metric(client, 'batchgate_notifications_dropped_total{reason="queue_full"')
    assert dropped == 150
    health = await get(client, "/health")
    assert "queue_full" in " ".join(reason["reason"] for reason in health["reasons"])

    receiver.release()

    async def drained() -> bool:
        return await _metric(client, "batchgate_notifications_queue_length") == 0

    await until(drained, 20)
    delivered = {alert["labels"]["job"] for alert in receiver.alerts()}
    # The first, in flight when the receiver hung, and the newest that fit in the queue.
    assert delivered == {"job_0"} | {f"job_{index}" for index in range(151, 200)}
