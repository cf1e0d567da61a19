"""Live events: every state change, fanned out to `GET /events` subscribers.

Publishing costs the same however many listen, and nothing when nobody does: a message is
serialised once and appended to one shared, bounded log; each subscriber keeps a cursor
into it. Subscribers are woken together, at most once per `flush_interval` while events
keep coming (the first event after a quiet spell is flushed at once), and read what is
new; listeners without a filter share one joined copy of each flush. So a hundred
dashboards cost a thousand wake-ups a second at any event rate, not one per event per
dashboard. A subscriber that falls further behind than the log holds (a slow client
whose socket does not drain) loses the backlog it missed and gets one `resync` event
telling it to reload what it shows: no listener can hold memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from collector.api_json import run_json
from collector.state import Change, StateSettings

LOG_SIZE = 10_000
"""Messages the shared log keeps: how far a subscriber may fall behind before a resync."""
FLUSH_INTERVAL = 0.1
"""Seconds between two wake-ups of the subscribers while events keep coming."""

LIVE_EVENT = {
    "started": "run.started",
    "progress": "run.progress",
    "revived": "run.progress",
    "finished": "run.finished",
}

Filter = Callable[[str, dict[str, Any]], bool]


class Message(NamedTuple):
    sequence: int
    type: str
    data: dict[str, Any]
    body: bytes
    """The whole SSE message, encoded, ready to send."""


@dataclass(eq=False)
class Subscription:
    """One listener: where it is in the bus's log, and an optional filter."""

    bus: EventBus
    accepts: Filter | None
    cursor: int
    """The sequence number of the last message this listener has been given."""
    dropped: int = 0

    async def next_batch(self, within: float) -> bytes | None:
        """The SSE messages published since the last batch that this listener accepts, once
        there are some; b"" after `within` seconds without any; None once the bus closed."""
        bus = self.bus
        deadline = time.monotonic() + within
        while True:
            if bus.closed:
                return None
            if bus.flushed > self.cursor:
                batch = bus.read(self)
                if batch:
                    return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            await bus.flush_done(remaining)


class EventBus:
    def __init__(self, log_size: int = LOG_SIZE, flush_interval: float = FLUSH_INTERVAL) -> None:
        self._log: deque[Message] = deque(maxlen=log_size)
        self._subscriptions: set[Subscription] = set()
        self._flush: asyncio.Event | None = None
        self._flush_scheduled = False
        self._last_flush = -1e9
        self._shared: tuple[int, int, bytes] = (0, 0, b"")
        """The last joined batch of every message, (after, up to, bytes), for listeners
        without a filter: one join per flush, not one per listener."""
        self.flush_interval = flush_interval
        self.sequence = 0
        """The last message published."""
        self.flushed = 0
        """The last message subscribers have been woken for."""
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
        subscription = Subscription(self, accepts, self.sequence)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        if not self._subscriptions:
            self._log.clear()  # nobody will read it
            self._shared = (0, 0, b"")

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        if not self._subscriptions:
            return
        self.sequence += 1
        self.published += 1
        body = (
            f"id: {self.sequence}\nevent: {event_type}\n"
            f"data: {json.dumps(data, separators=(',', ':'))}\n\n"
        ).encode()
        self._log.append(Message(self.sequence, event_type, data, body))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            delay = self._last_flush + self.flush_interval - time.monotonic()
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # published outside the server's loop: flush at once
                self._wake()
                return
            if delay > 0:
                loop.call_later(delay, self._wake)
            else:
                loop.call_soon(self._wake)

    def close(self) -> None:
        """Hang up on every listener (server shutdown)."""
        self.closed = True
        self._wake()

    def read(self, subscription: Subscription) -> bytes:
        """What the subscription has not been given yet, filtered; advances its cursor."""
        cursor, up_to = subscription.cursor, self.flushed
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
        accepts = subscription.accepts
        if accepts is None:
            after, until, shared = self._shared
            if (after, until) != (cursor, up_to):
                shared = b"".join(
                    log[i].body for i in range(cursor - oldest + 1, up_to - oldest + 1)
                )
                self._shared = (cursor, up_to, shared)
            return resync + shared if resync else shared
        # Sequence numbers in the log are consecutive: index = sequence - oldest.
        bodies = [resync] if resync else []
        for index in range(cursor - oldest + 1, up_to - oldest + 1):
            message = log[index]
            if accepts(message.type, message.data):
                bodies.append(message.body)
        return b"".join(bodies)

    async def flush_done(self, within: float) -> None:
        """Return at the next flush (or close), or after `within` seconds."""
        if self._flush is None:
            self._flush = asyncio.Event()
        flush = self._flush
        try:
            async with asyncio.timeout(within):
                await flush.wait()
        except TimeoutError:
            pass

    def _wake(self) -> None:
        """Let subscribers read everything published so far."""
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        self.flushed = self.sequence
        if self._flush is not None:
            self._flush.set()
            self._flush = None


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
