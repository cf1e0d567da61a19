"""Live events: every state change, fanned out to `GET /events` subscribers.

Publishing costs nothing when nobody listens, and each message is serialised once
however many listen. A subscriber that falls behind is not allowed to hold memory: its
queue is bounded, and when it overflows the backlog is dropped and replaced by one
`resync` event telling the client to reload what it shows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from collector.api_json import run_json
from collector.state import Change, StateSettings

MAX_QUEUED = 1000

LIVE_EVENT = {
    "started": "run.started",
    "progress": "run.progress",
    "revived": "run.progress",
    "finished": "run.finished",
}


@dataclass(eq=False)
class Subscription:
    """One listener: a bounded queue of ready-to-send SSE messages, with an optional filter."""

    accepts: Callable[[str, dict[str, Any]], bool]
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED))
    """SSE messages ready to send; None tells the listener to hang up."""
    dropped: int = 0

    def drain(self) -> list[str | None]:
        """Everything queued now, without waiting."""
        items: list[str | None] = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._sequence = 0
        self.published = 0
        self.dropped = 0
        self.closed = False

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def subscribe(
        self, accepts: Callable[[str, dict[str, Any]], bool] | None = None
    ) -> Subscription:
        subscription = Subscription(accepts or (lambda _type, _data: True))
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def active(self) -> bool:
        """Whether anyone listens: callers may skip building events when nobody does."""
        return bool(self._subscriptions)

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        if not self._subscriptions:
            return
        self._sequence += 1
        self.published += 1
        message = (
            f"id: {self._sequence}\nevent: {event_type}\n"
            f"data: {json.dumps(data, separators=(',', ':'))}\n\n"
        )
        for subscription in self._subscriptions:
            if not subscription.accepts(event_type, data):
                continue
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                self._overflow(subscription)

    def close(self) -> None:
        """Hang up on every listener (server shutdown)."""
        self.closed = True
        for subscription in self._subscriptions:
            subscription.drain()
            subscription.queue.put_nowait(None)

    def _overflow(self, subscription: Subscription) -> None:
        dropped = len(subscription.drain())
        subscription.dropped += dropped
        self.dropped += dropped
        notice = {"dropped": dropped, "reason": "this listener fell behind; reload state"}
        subscription.queue.put_nowait(f"event: resync\ndata: {json.dumps(notice)}\n\n")


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
