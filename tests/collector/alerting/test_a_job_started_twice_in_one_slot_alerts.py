"""End to end, kind off_schedule: an hourly job started on two hosts for the same scheduled
time, and one started by hand between two, each reach a real webhook receiver naming what
was wrong; the alerts resolve when a later run finishes."""

from __future__ import annotations

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, get, push

# The clock starts at 2023-11-14T22:13:20Z: the next hourly tick is 23:00.
TO_NEXT_TICK = 46 * 60 + 40

RULES = """
rules:
  - {name: OffSchedule, kind: off_schedule, schedule: "0 * * * *", grace: 2m, match: {job: sync}}
"""


async def test_a_second_start_in_one_slot_and_a_start_by_hand_are_notified(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    clock.advance(TO_NEXT_TICK + 5)
    await push(client, {"job": "sync", "event": "start", "run_id": "host-a"})
    clock.advance(3)
    await push(client, {"job": "sync", "event": "start", "run_id": "host-b"})

    (message,) = await receiver.wait_for(1)
    (alert,) = message["alerts"]
    assert alert["labels"]["run_id"] == "host-b"
    assert alert["annotations"] == {
        "detail": "run 2 for the scheduled time 2023-11-14 23:00:00 UTC (started first: host-a)"
    }

    clock.advance(60)
    await push(client, {"job": "sync", "event": "success", "run_id": "host-a"})
    await push(client, {"job": "sync", "event": "success", "run_id": "host-b"})
    clock.advance(20 * 60)  # 23:21: by hand
    await push(client, {"job": "sync", "event": "start", "run_id": "manual"})
    _, second = await receiver.wait_for(2)
    assert second["alerts"][0]["labels"]["run_id"] == "manual"
    assert second["alerts"][0]["annotations"]["detail"].startswith(
        "started at 2023-11-14 23:21:08 UTC, 21m 8s after the nearest scheduled time"
    )
    firing = (await get(client, "/alerts"))["alerts"]
    assert sorted(a["run_id"] for a in firing) == ["host-b", "manual"]

    await push(client, {"job": "sync", "event": "success", "run_id": "manual"})
    clock.advance(39 * 60)  # 24:00: the next run, on time, alone
    await push(client, {"job": "sync", "event": "start", "run_id": "next"})
    await push(client, {"job": "sync", "event": "success", "run_id": "next"})
    await receiver.wait_for(4)
    resolved = [m for m in receiver.received if m["status"] == "resolved"]
    assert sorted(a["labels"]["run_id"] for m in resolved for a in m["alerts"]) == [
        "host-b",
        "manual",
    ]
