"""Live events: every state change, fanned out to `GET /events` subscribers.

Publishing costs the same however many listen, and nothing when nobody does: a message is
appended to one shared, bounded log and serialised once, just after the push that
published it has been answered; each subscriber keeps a cursor into the log. While events
keep coming, each subscriber is written to at most once per `flush_interval`, everything
new in one write; listeners without a filter written to together share one joined copy.
The subscribers are spread over `WAKE_GROUPS` groups written to one after the other across
the interval, so that a hundred dashboards never take the loop all at once and a push
never waits behind all of their writes. The first event after a quiet spell goes out to
the first group at once, to the last within one interval.

The bus writes to each listener's socket itself, from its timers: a listener is a cursor
and a sink, not a task woken for every write (a task's wake-up cost more than the write).

Every message has an `id`, its sequence number, which grows across restarts (it starts
from the boot time in microseconds): a listener that reconnects with the last id it saw
(EventSource sends it as `Last-Event-ID`) is given what it missed if the log still holds
all of it, and otherwise a `resync`. While nobody listens nothing is logged, so the first
listener after a quiet spell moves the sequence on by one: no resume reaches across it.

A subscriber that falls further behind than the log holds (a slow client whose socket
does not drain) is given one `resync` event telling it to reload what it shows, and
nothing of the backlog; it follows from there. A congested listener (in the server, one
with more than 256 KiB unsent) is given nothing more until it drains: none holds much more
than one write, and a write is at most what the log holds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from batchgate.collector.core.api_json import run_json
from batchgate.collector.core.state import Change, StateSettings

LOG_SIZE = 10_000
"""Messages the shared log keeps: how far a subscriber may fall behind before a resync."""
FLUSH_INTERVAL = 0.1
"""Seconds between two writes to a subscriber while events keep coming."""
WAKE_GROUPS = 25
"""Subscribers are woken in this many groups spread across the flush interval, so that a
push meets at most one group's writes (4 of 100 listeners), not a tenth of them (see
docs/decisions.md: with 25, 100 listeners raise the p99 by 1-11%, with 10 by 28-36%)."""
KEEPALIVE = 15.0
"""Seconds a quiet subscriber waits before it is sent a keepalive comment (within a third
more): proxies keep the stream open, and a listener that hung up is noticed."""

LIVE_EVENT = {
    "queued": "run.queued",
    "started": "run.started",
    "retrying": "run.retrying",
    "progress": "run.progress",
    "moved": "run.progress",
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


class Sink(Protocol):
    """Where a listener's bytes go: its socket, in the server."""

    @property
    def closed(self) -> bool:
        """The listener hung up: nothing more will reach it."""

    @property
    def congested(self) -> bool:
        """The listener has not yet taken what it was last given: give it no more for now."""

    def write(self, data: bytes) -> None: ...


@dataclass(eq=False)
class WakeGroup:
    """Listeners written to together, and up to which message they have been offered."""

    flushed: int = 0
    members: set[Subscription] = field(default_factory=set)


@dataclass(eq=False)
class Subscription:
    """One listener: where it is in the bus's log, what it wants, where its bytes go."""

    sink: Sink
    accepts: Filter | None
    cursor: int
    """The sequence number of the last message this listener has been given."""
    group: WakeGroup
    ended: asyncio.Future[None]
    """Done once the listener hung up or the bus closed."""
    last_write: float = field(default_factory=time.monotonic)
    dropped: int = 0


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
        self.sequence = time.time_ns() // 1000
        """The id of the last message published (or of the gap before the next one)."""
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

    def subscribe(
        self, sink: Sink, accepts: Filter | None = None, after: int | None = None
    ) -> Subscription:
        """A listener of what is published from now on (None accepts every event), or, with
        `after` (the last id it saw), from just after that: at once what it missed, or a
        `resync` when the log does not hold all of it. Await its `ended`, then unsubscribe."""
        loop = asyncio.get_running_loop()
        if not self._subscriptions:
            self.sequence += 1  # nothing was logged while nobody listened: a gap
        group = next(self._next_group)
        group.flushed = max(group.flushed, self.sequence)
        subscription = Subscription(sink, accepts, self.sequence, group, loop.create_future())
        if self.closed:
            subscription.ended.set_result(None)
            return subscription
        group.members.add(subscription)
        self._subscriptions.add(subscription)
        if not self._ticking:
            self._ticking = True
            loop.call_later(self.keepalive / 3, self._tick)
        if after is not None and after != self.sequence:
            if self._holds_everything_after(after):
                subscription.cursor = after
                self._deliver(subscription, self.sequence, time.monotonic())
            else:
                sink.write(_resync(None, f"events after {after} are not held; reload state"))
        return subscription

    def _holds_everything_after(self, after: int) -> bool:
        """Whether the log holds every message after id `after` (published by this bus)."""
        return bool(self._log) and self._log[0].sequence - 1 <= after < self.sequence

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        subscription.group.members.discard(subscription)
        if not subscription.ended.done():
            subscription.ended.set_result(None)
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
                self._wake(group)
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
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)

    def read(self, subscription: Subscription, up_to: int) -> bytes:
        """What the subscription has not been given yet, up to message `up_to`, filtered;
        advances its cursor."""
        cursor = subscription.cursor
        subscription.cursor = up_to
        log = self._log
        if not log or cursor >= up_to:
            return b""
        oldest = log[0].sequence
        if cursor < oldest - 1:
            # Some of what it missed is gone: it must reload anyway, so it is given nothing
            # of the backlog, which would only be a log's worth of bytes held for a listener
            # that reads slowly.
            missed = up_to - cursor
            subscription.dropped += missed
            self.dropped += missed
            return _resync(missed, "this listener fell behind; reload state")
        # Sequence numbers in the log are consecutive: index = sequence - oldest.
        first, last = cursor - oldest + 1, up_to - oldest + 1
        accepts = subscription.accepts
        if accepts is None:
            if self._shared[:2] != (cursor, up_to):
                joined = b"".join(log[index].body for index in range(first, last))
                self._shared = (cursor, up_to, joined)
            return self._shared[2]
        bodies = []
        for index in range(first, last):
            message = log[index]
            if accepts(message.type, message.job):
                bodies.append(message.body)
        return b"".join(bodies)

    def _deliver(self, subscription: Subscription, up_to: int, now: float) -> None:
        """Write what is new to one listener, unless it hung up or has not drained the
        last write (its cursor stays: it gets everything at a later wake-up, or a resync)."""
        sink = subscription.sink
        if sink.closed:
            self.unsubscribe(subscription)
        elif subscription.cursor < up_to and not sink.congested:
            batch = self.read(subscription, up_to)
            if batch:
                sink.write(batch)
                subscription.last_write = now

    def _wake(self, group: WakeGroup) -> None:
        group.flushed = self.sequence
        now = time.monotonic()
        for subscription in list(group.members):
            self._deliver(subscription, group.flushed, now)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake the groups one after the other across the interval; each reads what is new
        when its turn comes."""
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        step = self.flush_interval / len(self._groups)
        for index, group in enumerate(self._groups):
            if index == 0:
                self._wake(group)
            else:
                loop.call_later(index * step, self._wake, group)

    def _tick(self) -> None:
        """A few times per keepalive interval, one timer for the whole bus: forget listeners
        that hung up, give those that were congested what they missed, and send a
        keepalive comment to those quiet for the interval."""
        if not self._subscriptions or self.closed:
            self._ticking = False
            return
        now = time.monotonic()
        for group in self._groups:
            for subscription in list(group.members):
                self._deliver(subscription, group.flushed, now)
                if (
                    subscription in group.members
                    and now - subscription.last_write >= self.keepalive
                    and not subscription.sink.congested
                ):
                    subscription.sink.write(b": keepalive\n\n")
                    subscription.last_write = now
        asyncio.get_running_loop().call_later(self.keepalive / 3, self._tick)


def _resync(dropped: int | None, reason: str) -> bytes:
    """The `resync` event: reload what you show (`dropped`: how many events were not given,
    None when not known)."""
    notice = {"dropped": dropped, "reason": reason}
    return f"event: resync\ndata: {json.dumps(notice)}\n\n".encode()


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
