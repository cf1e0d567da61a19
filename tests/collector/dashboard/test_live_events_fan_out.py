"""The live event bus behind GET /events: one serialisation and one shared log whatever the
number of listeners, listeners written to together in batches, and a resync for a listener
that falls behind, instead of memory held for it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from batchgate.collector.live import EventBus
from tests.helpers import until


class ListSink:
    """A listener that keeps what it is sent; the test decides when it hangs up or stops
    draining."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.congested = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def events(self) -> list[tuple[str, dict[str, object]]]:
        found = []
        for message in b"".join(self.writes).decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in message.splitlines() if ": " in line)
            if "event" in fields:
                found.append((fields["event"], json.loads(fields["data"])))
        return found

    def ids(self) -> list[int]:
        text = b"".join(self.writes).decode()
        return [
            int(line.removeprefix("id: ")) for line in text.splitlines() if line.startswith("id: ")
        ]


async def _has_written(*sinks: ListSink) -> bool:
    return all(sink.writes for sink in sinks)


def _has_events(sink: ListSink, count: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return len(sink.events()) == count

    return reached


async def test_every_listener_gets_every_event_from_one_shared_copy() -> None:
    bus = EventBus()
    sinks = [ListSink() for _ in range(100)]
    for sink in sinks:
        bus.subscribe(sink)
    for n in range(3):
        bus.publish("run.progress", {"job": "etl", "n": n})
    await until(lambda: _has_written(*sinks))
    assert [data["n"] for _, data in sinks[0].events()] == [0, 1, 2]
    assert all(sink.writes == [sinks[0].writes[0]] for sink in sinks)
    assert all(sink.writes[0] is sinks[0].writes[0] for sink in sinks)  # joined once
    assert bus.published == 3


async def test_a_filter_applies_to_its_listener_only() -> None:
    bus = EventBus()
    everything, backups = ListSink(), ListSink()
    bus.subscribe(everything)
    bus.subscribe(backups, lambda kind, job: job == "backup")
    bus.publish("run.started", {"job": "etl"})
    bus.publish("run.started", {"job": "backup"})
    await until(lambda: _has_written(everything, backups))
    assert len(everything.events()) == 2
    assert backups.events() == [("run.started", {"job": "backup"})]


async def test_the_first_event_goes_out_at_once_then_events_are_gathered() -> None:
    bus = EventBus(flush_interval=0.2)
    sink = ListSink()
    bus.subscribe(sink)
    started = time.monotonic()
    bus.publish("run.progress", {"n": 0})
    await until(lambda: _has_written(sink))
    assert time.monotonic() - started < 0.15
    assert len(sink.events()) == 1
    for n in range(1, 4):
        bus.publish("run.progress", {"n": n})

    async def written_twice() -> bool:
        return len(sink.writes) == 2

    await until(written_twice)
    assert [data["n"] for _, data in sink.events()] == [0, 1, 2, 3]
    assert time.monotonic() - started >= 0.2  # the second write waited for the interval


async def test_a_listener_that_falls_behind_gets_a_resync_not_a_backlog() -> None:
    bus = EventBus(log_size=5, flush_interval=0.01, keepalive=0.15)
    slow, quick = ListSink(), ListSink()
    slow.congested = True  # it has not drained what it was sent
    bus.subscribe(slow)
    bus.subscribe(quick)
    for n in range(12):
        bus.publish("run.progress", {"n": n})
        await until(_has_events(quick, n + 1))
    assert slow.writes == []
    slow.congested = False  # it drains: the bus's next tick tells it to reload
    await until(lambda: _has_written(slow))
    assert slow.events() == [
        ("resync", {"dropped": 12, "reason": "this listener fell behind; reload state"})
    ]  # and nothing of the backlog, which its reload covers
    assert bus.dropped == 12  # the quick listener, kept up to date, missed nothing
    assert [data["n"] for _, data in quick.events()] == list(range(12))
    bus.publish("run.progress", {"n": 12})  # from there on, it follows again
    await until(_has_events(slow, 2))
    assert slow.events()[1] == ("run.progress", {"n": 12})


async def test_a_quiet_listener_gets_keepalives_and_a_hang_up_is_noticed() -> None:
    bus = EventBus(keepalive=0.06)
    sink = ListSink()
    subscription = bus.subscribe(sink)
    started = time.monotonic()
    await until(lambda: _has_written(sink))
    assert sink.writes == [b": keepalive\n\n"]
    assert 0.06 <= time.monotonic() - started < 1.0
    sink.closed = True
    await asyncio.wait_for(subscription.ended, 1.0)
    assert bus.subscribers == 0


async def test_a_closed_bus_ends_every_listener() -> None:
    bus = EventBus()
    subscriptions = [bus.subscribe(ListSink()) for _ in range(3)]
    bus.close()
    await asyncio.wait_for(asyncio.gather(*(s.ended for s in subscriptions)), 1.0)
    late = bus.subscribe(ListSink())
    assert late.ended.done()
    assert bus.subscribers == 0


async def test_nobody_listening_costs_nothing() -> None:
    bus = EventBus()
    before = bus.sequence
    bus.publish("run.started", {"job": "etl"})
    assert (bus.published, bus.sequence, bus.active) == (0, before, False)


async def test_a_listener_that_reconnects_gets_what_it_missed() -> None:
    bus = EventBus(flush_interval=0.01)
    bus.subscribe(ListSink())  # another dashboard, keeping the log
    first = ListSink()
    subscription = bus.subscribe(first)
    for n in range(3):
        bus.publish("run.progress", {"n": n})
    await until(lambda: _has_written(first))
    last_seen = first.ids()[-1]
    bus.unsubscribe(subscription)  # its connection dropped
    for n in range(3, 6):
        bus.publish("run.progress", {"n": n})

    again = ListSink()
    bus.subscribe(again, after=last_seen)  # at once, not at the next flush
    assert [data["n"] for _, data in again.events()] == [3, 4, 5]
    assert again.ids() == [last_seen + 1, last_seen + 2, last_seen + 3]
    up_to_date = ListSink()
    bus.subscribe(up_to_date, after=again.ids()[-1])
    assert up_to_date.writes == []  # it missed nothing


async def test_a_resume_the_log_cannot_serve_is_a_resync() -> None:
    bus = EventBus(log_size=3, flush_interval=0.01)
    bus.subscribe(ListSink())
    for n in range(5):
        bus.publish("run.progress", {"n": n})
    oldest_held = bus.sequence - 2
    for after in (oldest_held - 2, bus.sequence + 1, -1):  # too old, not yet, not ours
        sink = ListSink()
        bus.subscribe(sink, after=after)
        assert [kind for kind, _ in sink.events()] == ["resync"], after
    sink = ListSink()
    bus.subscribe(sink, after=oldest_held - 1)  # the log holds everything after it
    assert [data["n"] for _, data in sink.events()] == [2, 3, 4]


async def test_no_resume_reaches_across_a_time_nobody_listened() -> None:
    """Nothing is logged while nobody listens, so the events of that time cannot be given."""
    bus = EventBus(flush_interval=0.01)
    sink = ListSink()
    subscription = bus.subscribe(sink)
    bus.publish("run.progress", {"n": 0})
    await until(lambda: _has_written(sink))
    bus.unsubscribe(subscription)
    bus.publish("run.progress", {"n": 1})  # nobody hears it
    again = ListSink()
    bus.subscribe(again, after=sink.ids()[-1])
    assert [kind for kind, _ in again.events()] == ["resync"]


async def test_ids_grow_across_restarts() -> None:
    """A new bus (a restarted server) never reuses the ids of an earlier one."""
    earlier = EventBus(flush_interval=0.01)
    sink = ListSink()
    earlier.subscribe(sink)
    for n in range(10):  # ids grow by one an event, far slower than the clock's microseconds
        earlier.publish("run.progress", {"n": n})
    await until(lambda: _has_written(sink))
    later = EventBus()
    again = ListSink()
    later.subscribe(again, after=sink.ids()[-1])
    assert [kind for kind, _ in again.events()] == ["resync"]
    assert later.sequence > sink.ids()[-1]
