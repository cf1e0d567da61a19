"""The live event bus behind GET /events: one serialisation and one shared log whatever the
number of listeners, listeners woken together in batches, and a resync for a listener
that falls behind, instead of memory held for it."""

from __future__ import annotations

import asyncio
import json
import time

from collector.live import EventBus


def _events(batch: bytes) -> list[tuple[str, dict[str, object]]]:
    found = []
    for message in batch.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in message.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


async def test_every_listener_gets_every_event_from_one_shared_copy() -> None:
    bus = EventBus()
    listeners = [bus.subscribe() for _ in range(100)]
    for n in range(3):
        bus.publish("run.progress", {"job": "etl", "n": n})
    batches = [await listener.next_batch() for listener in listeners]
    assert batches[0] is not None
    assert [data["n"] for _, data in _events(batches[0])] == [0, 1, 2]
    assert all(batch is batches[0] for batch in batches)  # joined once, sent 100 times
    assert bus.published == 3


async def test_a_filter_applies_to_its_listener_only() -> None:
    bus = EventBus()
    everything = bus.subscribe()
    backups = bus.subscribe(lambda kind, job: job == "backup")
    bus.publish("run.started", {"job": "etl"})
    bus.publish("run.started", {"job": "backup"})
    assert len(_events(await everything.next_batch() or b"")) == 2
    assert _events(await backups.next_batch() or b"") == [("run.started", {"job": "backup"})]


async def test_the_first_event_goes_out_at_once_then_events_are_gathered() -> None:
    bus = EventBus(flush_interval=0.2)
    listener = bus.subscribe()
    started = time.monotonic()
    bus.publish("run.progress", {"n": 0})
    first = await listener.next_batch()
    assert time.monotonic() - started < 0.15
    assert len(_events(first or b"")) == 1
    for n in range(1, 4):
        bus.publish("run.progress", {"n": n})
    second = await listener.next_batch()
    assert [data["n"] for _, data in _events(second or b"")] == [1, 2, 3]
    assert time.monotonic() - started >= 0.2  # the second write waited for the interval


async def test_a_listener_that_falls_behind_gets_a_resync_not_a_backlog() -> None:
    bus = EventBus(log_size=5)
    slow = bus.subscribe()
    for n in range(12):
        bus.publish("run.progress", {"n": n})
    batch = _events(await slow.next_batch() or b"")
    assert batch[0] == (
        "resync",
        {"dropped": 7, "reason": "this listener fell behind; reload state"},
    )
    assert [data["n"] for _, data in batch[1:]] == [7, 8, 9, 10, 11]
    assert (slow.dropped, bus.dropped) == (7, 7)


async def test_a_quiet_listener_times_out_and_a_closed_bus_hangs_up() -> None:
    bus = EventBus(keepalive=0.05)
    listener = bus.subscribe()
    started = time.monotonic()
    assert await listener.next_batch() == b""
    assert 0.05 <= time.monotonic() - started < 1.0
    waiting = asyncio.create_task(listener.next_batch())
    await asyncio.sleep(0)
    bus.close()
    assert await asyncio.wait_for(waiting, 1.0) is None


async def test_nobody_listening_costs_nothing() -> None:
    bus = EventBus()
    bus.publish("run.started", {"job": "etl"})
    assert (bus.published, bus.sequence, bus.active) == (0, 0, False)
