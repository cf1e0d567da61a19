"""Live events: every state change, fanned out to `GET /events` subscribers.

Publishing costs the same however many listen, and nothing when nobody does: a message is
appended to one shared, bounded log and serialised once, just after the push that
published it has been answered; each subscriber keeps a cursor into the log. While events
keep coming, subscribers are woken at most once per `flush_interval`, each time reading
everything new in one write; listeners without a filter that wake together share one
joined copy. The subscribers are spread over `WAKE_GROUPS` groups woken one after the
other across the interval, so that a hundred dashboards never write all at once and a
push never waits behind all of their writes. The first event after a quiet spell goes
out to the first group at once, to the last within one interval.

A subscriber that falls further behind than the log holds (a slow client whose socket
does not drain) loses the backlog it missed and gets one `resync` event telling it to
reload what it shows: no listener can hold memory.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from collector.api_json import run_json
from collector.state import Change, StateSettings

LOG_SIZE = 10_000
"""Messages the shared log keeps: how far a subscriber may fall behind before a resync."""
FLUSH_INTERVAL = 0.1
"""Seconds between two wake-ups of a subscriber while events keep coming."""
WAKE_GROUPS = 10
KEEPALIVE = 15.0
"""Seconds a quiet subscriber waits before it is sent a keepalive comment (within a third
more): proxies keep the stream open, and a listener that hung up is noticed."""

LIVE_EVENT = {
    "started": "run.started",
    "progress": "run.progress",
    "revived": "run.progress",
    "finished": "run.finished",
}

Filter = Callable[[str, str], bool]
"""Whether a listener wants an event, from its type and its job's name."""


class Message:
    """One published event. Its SSE text is built once, soon after publishing (or when first
    read, whichever comes first), and then kept: the log holds bytes and names, not parsed
    data, so that ten thousand messages stay cheap to hold."""

    __slots__ = ("_body", "_data", "job", "sequence", "type")

    def __init__(self, sequence: int, type: str, job: str, data: dict[str, Any]) -> None:
        self.sequence = sequence
        self.type = type
        self.job = job
        """The job the event is about ("" for none): what listeners filter on."""
        self._data: dict[str, Any] | None = data
        self._body = b""

    @property
    def body(self) -> bytes:
        """The whole SSE message, encoded, ready to send."""
        self.serialise()
        return self._body

    def serialise(self) -> None:
        if self._data is not None:
            data = json.dumps(self._data, separators=(",", ":"))
            self._body = f"id: {self.sequence}\nevent: {self.type}\ndata: {data}\n\n".encode()
            self._data = None


@dataclass(eq=False)
class WakeGroup:
    """Subscribers woken together: up to which message they may read, and who waits."""

    flushed: int = 0
    waiting: list[asyncio.Future[None]] = field(default_factory=list)

    def wake(self, sequence: int) -> None:
        self.flushed = sequence
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            if not waiter.done():  # not cancelled
                waiter.set_result(None)

    async def wait(self) -> None:
        """Return when the group is woken (the bus also wakes it for keepalives)."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        await waiter


@dataclass(eq=False)
class Subscription:
    """One listener: where it is in the bus's log, its wake group, and an optional filter."""

    bus: EventBus
    accepts: Filter | None
    cursor: int
    """The sequence number of the last message this listener has been given."""
    group: WakeGroup = field(default_factory=WakeGroup)
    dropped: int = 0

    async def next_batch(self) -> bytes | None:
        """The SSE messages published since the last batch that this listener accepts, once
        there are some; b"" after the bus's keepalive interval without any (time to send a
        keepalive); None once the bus closed."""
        bus = self.bus
        deadline = time.monotonic() + bus.keepalive
        while True:
            if bus.closed:
                return None
            if self.group.flushed > self.cursor:
                batch = bus.read(self)
                if batch:
                    return batch
            if time.monotonic() >= deadline:
                return b""
            await self.group.wait()


class EventBus:
    def __init__(
        self,
        log_size: int = LOG_SIZE,
        flush_interval: float = FLUSH_INTERVAL,
        wake_groups: int = WAKE_GROUPS,
        keepalive: float = KEEPALIVE,
    ) -> None:
        self._log: deque[Message] = deque(maxlen=log_size)
        self._subscriptions: set[Subscription] = set()
        self._groups = [WakeGroup() for _ in range(wake_groups)]
        self._next_group = itertools.cycle(self._groups)
        self._flush_scheduled = False
        self._last_flush = -1e9
        self._shared: tuple[int, int, bytes] = (0, 0, b"")
        """The last joined batch of every message, (after, up to, bytes), for listeners
        without a filter woken together: one join per group wake-up, not one per listener."""
        self.flush_interval = flush_interval
        self.keepalive = keepalive
        self._ticking = False
        self.sequence = 0
        """The last message published."""
        self.published = 0
        self.dropped = 0
        self.closed = False

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @property
    def active(self) -> bool:
        """Whether anyone listens: callers may skip building events when nobody does."""
        return bool(self._subscriptions)

    def subscribe(self, accepts: Filter | None = None) -> Subscription:
        """A listener of what is published from now on (None accepts every event)."""
        group = next(self._next_group)
        group.flushed = max(group.flushed, self.sequence)
        subscription = Subscription(self, accepts, self.sequence, group)
        self._subscriptions.add(subscription)
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_later(self.keepalive / 3, self._tick)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        if not self._subscriptions:
            self._log.clear()  # nobody will read it
            self._shared = (0, 0, b"")

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish an event; `data` is serialised later, so nobody may change it after."""
        if not self._subscriptions:
            return
        self.sequence += 1
        self.published += 1
        message = Message(self.sequence, event_type, str(data.get("job", "")), data)
        self._log.append(message)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published outside the server's loop: everyone reads at once
            for group in self._groups:
                group.wake(self.sequence)
            return
        # Serialised just after the push that published it has been answered: neither in
        # its answer's time nor in a burst when the listeners wake.
        loop.call_soon(message.serialise)
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        delay = max(0.0, self._last_flush + self.flush_interval - time.monotonic())
        loop.call_later(delay, self._flush, loop)

    def close(self) -> None:
        """Hang up on every listener (server shutdown)."""
        self.closed = True
        for group in self._groups:
            group.wake(self.sequence)

    def read(self, subscription: Subscription) -> bytes:
        """What the subscription has not been given yet, filtered; advances its cursor."""
        cursor, up_to = subscription.cursor, subscription.group.flushed
        subscription.cursor = up_to
        log = self._log
        if not log or cursor >= up_to:
            return b""
        oldest = log[0].sequence
        resync = b""
        if cursor < oldest - 1:
            missed = oldest - 1 - cursor
            subscription.dropped += missed
            self.dropped += missed
            notice = {"dropped": missed, "reason": "this listener fell behind; reload state"}
            resync = f"event: resync\ndata: {json.dumps(notice)}\n\n".encode()
            cursor = oldest - 1
        # Sequence numbers in the log are consecutive: index = sequence - oldest.
        first, last = cursor - oldest + 1, up_to - oldest + 1
        accepts = subscription.accepts
        if accepts is None:
            if self._shared[:2] != (cursor, up_to):
                joined = b"".join(log[index].body for index in range(first, last))
                self._shared = (cursor, up_to, joined)
            return resync + self._shared[2] if resync else self._shared[2]
        bodies = [resync] if resync else []
        for index in range(first, last):
            message = log[index]
            if accepts(message.type, message.job):
                bodies.append(message.body)
        return b"".join(bodies)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake the groups one after the other across the interval; each reads what is new
        when its turn comes."""
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        step = self.flush_interval / len(self._groups)
        for index, group in enumerate(self._groups):
            if index == 0:
                group.wake(self.sequence)
            else:
                loop.call_later(index * step, self._wake_group, group)

    def _wake_group(self, group: WakeGroup) -> None:
        group.wake(self.sequence)

    def _tick(self) -> None:
        """Wake every listener, with nothing new to read, a few times per keepalive interval:
        one timer for the whole bus tells each whether its keepalive is due."""
        if not self._subscriptions or self.closed:
            self._ticking = False
            return
        for group in self._groups:
            group.wake(group.flushed)
        asyncio.get_running_loop().call_later(self.keepalive / 3, self._tick)


def publish_changes(
    bus: EventBus, changes: list[Change], now: float, settings: StateSettings
) -> None:
    """One live event per run touched by a push, describing the run as it is now."""
    if not bus.active:
        return
    latest: dict[str, Change] = {}
    for change in changes:
        previous = latest.get(change.run.run_id)
        if previous is None or change.kind != "ignored":
            # A run started and finished in one push is reported as finished.
            if previous is not None and previous.kind == "started" and change.kind != "finished":
                continue
            latest[change.run.run_id] = change
    for change in latest.values():
        kind = LIVE_EVENT.get(change.kind)
        if kind is not None:
            bus.publish(kind, run_json(change.run, now, settings))
