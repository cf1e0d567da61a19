"""The outbox: notifications persisted with the alert changes that made them, then delivered.

Every notification the rules decide is written to SQLite in the same commit as the alert change
behind it (through the one writer), kept in memory in its receiver's queue, and sent by that
receiver's own delivery task once it is durable. A delivered notification is deleted; one that
fails is retried with exponential backoff; after a restart what was not delivered is sent then.
A notification is delivered at least once: only a crash between a delivery and the commit that
records it re-sends it.

Nothing here is awaited by a push: `add` is synchronous and bounded. A receiver that is slow or
down holds up only its own task; its queue is capped (`queue_capacity`, the oldest dropped),
notifications older than `give_up_after` are dropped, and every drop is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import aiohttp

from batchgate.collector.alerting.metrics import AlertingMetrics
from batchgate.collector.alerting.settings import NotificationSettings
from batchgate.collector.core.records import OutboxRecord
from batchgate.collector.storage.writer import StorageFailing, Writer
from batchgate.rules import HttpRequest, Notification, Receiver, TemplateRenderError, build_requests
from batchgate.rules.receivers import ALERTMANAGER

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 64
"""At most this many notifications are taken for one round of requests to a receiver."""
RETRYABLE: Final = frozenset({408, 429})
"""4xx answers worth retrying; any other 4xx means the receiver refuses the request as it is."""

# Why a notification was dropped rather than delivered (the `reason` label of the metric).
QUEUE_FULL: Final = "queue_full"
EXPIRED: Final = "expired"
REJECTED: Final = "rejected"
RENDER_ERROR: Final = "render_error"
RECEIVER_REMOVED: Final = "receiver_removed"
DROP_LOG_INTERVAL: Final = 60.0
"""Drops are logged at most once a minute per receiver and reason (the metric counts all)."""


@dataclass(slots=True)
class _Outcome:
    delivered: bool
    retry: bool
    error: str | None = None


@dataclass(slots=True, eq=False)
class ReceiverQueue:
    """One receiver's notifications, oldest first, and how its deliveries are going."""

    receiver: Receiver
    items: OrderedDict[int, Notification] = field(default_factory=OrderedDict)
    latest: dict[str, int] = field(default_factory=dict)
    """Per alert id: its newest queued notification."""
    in_flight: set[int] = field(default_factory=set)
    failures: int = 0
    """Consecutive failed rounds; 0 while deliveries succeed."""
    retry_at: float = 0.0
    """Monotonic time before which no delivery is tried (backoff)."""
    failing_since: float | None = None
    last_error: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def remove(self, outbox_id: int) -> Notification | None:
        notification = self.items.pop(outbox_id, None)
        if notification is not None and self.latest.get(notification.alert_id) == outbox_id:
            del self.latest[notification.alert_id]
        return notification


class Outbox:
    """The notifications waiting for each receiver, and the tasks that deliver them."""

    def __init__(
        self,
        writer: Writer,
        session: aiohttp.ClientSession,
        metrics: AlertingMetrics,
        clock: Callable[[], float],
        settings: NotificationSettings,
        *,
        external_url: str,
        evaluation_interval: float,
    ) -> None:
        self._writer = writer
        self._session = session
        self._metrics = metrics
        self._clock = clock
        self.settings = settings
        self.external_url = external_url
        self.evaluation_interval = evaluation_interval
        self.queues: dict[str, ReceiverQueue] = {}
        self._next_id = 1
        self._running = False
        self.last_drop: tuple[float, str, str] | None = None
        """(wall time, receiver, reason) of the last notification dropped."""
        self._drops_logged: dict[tuple[str, str], float] = {}

    # -- configuration -------------------------------------------------------------------

    def set_receivers(self, receivers: Sequence[Receiver]) -> None:
        """Use these receivers: new ones get a queue and a task; removed ones lose what they
        had queued (counted as dropped)."""
        wanted = {receiver.name: receiver for receiver in receivers}
        for name in [name for name in self.queues if name not in wanted]:
            gone = self.queues.pop(name)
            if gone.task is not None:
                gone.task.cancel()
            self._drop(gone, list(gone.items), RECEIVER_REMOVED)
        for name, receiver in wanted.items():
            queue = self.queues.get(name)
            if queue is None:
                queue = self.queues[name] = ReceiverQueue(receiver)
                if self._running:
                    self._start(queue)
            else:
                queue.receiver = receiver
                queue.retry_at = 0.0  # a changed receiver (a fixed URL) is tried at once
                queue.wake.set()

    def restore(self, records: Iterable[OutboxRecord]) -> None:
        """Queue the notifications a previous run left undelivered (call before `start`)."""
        orphans: list[int] = []
        for record in records:
            self._next_id = max(self._next_id, record.id + 1)
            queue = self.queues.get(record.receiver)
            if queue is None:
                orphans.append(record.id)
                self._count_drop(record.receiver, RECEIVER_REMOVED)
                continue
            queue.items[record.id] = Notification.from_dict(record.data)
            queue.latest[record.alert_id] = record.id
        if orphans:
            self._writer.stage_finished_notifications(orphans)

    def start(self) -> None:
        self._running = True
        for queue in self.queues.values():
            self._start(queue)

    def _start(self, queue: ReceiverQueue) -> None:
        queue.task = asyncio.create_task(
            self._deliver_forever(queue), name=f"batchgate-notify-{queue.receiver.name}"
        )

    async def stop(self) -> None:
        """Stop delivering; what is queued stays in the store for the next start."""
        self._running = False
        tasks = [queue.task for queue in self.queues.values() if queue.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- queueing (synchronous: called from evaluations, on the push path) ---------------

    def add(self, notifications: Iterable[Notification]) -> None:
        """Queue notifications and stage them in the writer, in the caller's commit."""
        records: list[OutboxRecord] = []
        finished: list[int] = []
        for notification in notifications:
            queue = self.queues.get(notification.receiver)
            if queue is None:
                continue  # the rules only route to configured receivers
            previous = queue.latest.get(notification.alert_id)
            if previous is not None and previous not in queue.in_flight:
                if notification.reason == "repeat":
                    continue  # what is queued already tells the receiver the alert fires
                if queue.items[previous].reason == "repeat":
                    queue.remove(previous)  # superseded by what is newer
                    finished.append(previous)
            outbox_id = self._next_id
            self._next_id += 1
            queue.items[outbox_id] = notification
            queue.latest[notification.alert_id] = outbox_id
            records.append(
                OutboxRecord(
                    outbox_id,
                    notification.receiver,
                    notification.alert_id,
                    notification.at,
                    notification.to_dict(),
                )
            )
            overflow = len(queue.items) - self.settings.queue_capacity
            if overflow > 0:
                waiting = (i for i in queue.items if i not in queue.in_flight)
                oldest = list(itertools.islice(waiting, overflow))
                finished.extend(self._drop(queue, oldest, QUEUE_FULL, stage=False))
            queue.wake.set()
        if records:
            self._writer.stage_notifications(records)
        if finished:
            self._writer.stage_finished_notifications(finished)

    @property
    def queued(self) -> int:
        return sum(len(queue.items) for queue in self.queues.values())

    # -- delivering ----------------------------------------------------------------------

    async def _deliver_forever(self, queue: ReceiverQueue) -> None:
        while True:
            await self._ready(queue)
            try:
                await self._deliver_round(queue)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivering to receiver %s failed", queue.receiver.name)
                self._failed(queue, "internal error (see the log)", len(queue.in_flight))
            finally:
                queue.in_flight.clear()

    async def _ready(self, queue: ReceiverQueue) -> None:
        """Wait until the receiver has notifications and is not backing off."""
        while True:
            wait: float | None = None
            if queue.items:
                wait = queue.retry_at - time.monotonic()
                if wait <= 0:
                    return
            queue.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.wake.wait(), wait)

    async def _deliver_round(self, queue: ReceiverQueue) -> None:
        batch: list[int] = []
        alerts: set[str] = set()
        for outbox_id, notification in queue.items.items():
            # One state of an alert per round: its next state goes in the next request.
            if notification.alert_id in alerts:
                continue
            alerts.add(notification.alert_id)
            batch.append(outbox_id)
            if len(batch) == BATCH_SIZE:
                break
        queue.in_flight.update(batch)
        # Send only what is durable: a notification must not be sent for an alert change
        # that a crash could still undo.
        while True:
            try:
                await self._writer.durable()
                break
            except StorageFailing:
                await asyncio.sleep(1.0)
        now = self._clock()
        expired = [i for i in batch if i in queue.items and self._expired(queue.items[i], now)]
        if expired:
            self._drop(queue, expired, EXPIRED)
        pending = [(i, queue.items[i]) for i in batch if i in queue.items]
        receiver = queue.receiver
        for group in _request_groups(receiver, pending):
            ids = [outbox_id for outbox_id, _ in group]
            try:
                requests = build_requests(
                    receiver,
                    [notification for _, notification in group],
                    external_url=self.external_url,
                    now=now,
                    evaluation_interval=self.evaluation_interval,
                )
            except TemplateRenderError as error:
                log.error("receiver %s: template failed, dropping: %s", receiver.name, error)
                self._drop(queue, ids, RENDER_ERROR)
                continue
            outcome = await self._send_all(receiver, requests)
            if outcome.delivered:
                self._delivered(queue, ids)
            elif outcome.retry:
                self._failed(queue, outcome.error or "failed", len(ids))
                return  # the rest waits for the retry, in order
            else:
                log.error("receiver %s refused notifications: %s", receiver.name, outcome.error)
                self._drop(queue, ids, REJECTED)
        if queue.failures:
            log.info("receiver %s delivers again", receiver.name)
        queue.failures, queue.failing_since, queue.last_error = 0, None, None

    def _expired(self, notification: Notification, now: float) -> bool:
        return now - notification.at > self.settings.give_up_after

    async def _send_all(self, receiver: Receiver, requests: Sequence[HttpRequest]) -> _Outcome:
        for request in requests:
            outcome = await self._send(receiver, request)
            if not outcome.delivered:
                return outcome
        return _Outcome(True, False)

    async def _send(self, receiver: Receiver, request: HttpRequest) -> _Outcome:
        started = time.perf_counter()
        try:
            async with self._session.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=aiohttp.ClientTimeout(total=request.timeout),
            ) as response:
                await response.read()
                status = response.status
        except TimeoutError:
            return _Outcome(False, True, f"no answer within {request.timeout:g}s")
        except aiohttp.ClientError as error:
            return _Outcome(False, True, f"{type(error).__name__}: {error}")
        finally:
            self._metrics.request_seconds.labels(receiver.name).observe(
                time.perf_counter() - started
            )
        if 200 <= status < 300:
            return _Outcome(True, False)
        retry = status >= 500 or status in RETRYABLE
        return _Outcome(False, retry, f"HTTP {status} from {request.url}")

    # -- bookkeeping ---------------------------------------------------------------------

    def _delivered(self, queue: ReceiverQueue, ids: list[int]) -> None:
        for outbox_id in ids:
            queue.remove(outbox_id)
        self._writer.stage_finished_notifications(ids)
        self._metrics.notifications.labels(queue.receiver.name, "delivered").inc(len(ids))

    def _failed(self, queue: ReceiverQueue, error: str, count: int) -> None:
        queue.failures += 1
        if queue.failing_since is None:
            queue.failing_since = time.time()
            log.warning("receiver %s failing, will retry: %s", queue.receiver.name, error)
        queue.last_error = error
        backoff = min(
            self.settings.retry_initial * 2 ** min(queue.failures - 1, 30), self.settings.retry_max
        )
        queue.retry_at = time.monotonic() + backoff * random.uniform(0.8, 1.0)
        self._metrics.notifications.labels(queue.receiver.name, "failed").inc(count)

    def _drop(
        self, queue: ReceiverQueue, ids: list[int], reason: str, *, stage: bool = True
    ) -> list[int]:
        dropped = [outbox_id for outbox_id in ids if queue.remove(outbox_id) is not None]
        if dropped:
            if stage:
                self._writer.stage_finished_notifications(dropped)
            self._count_drop(queue.receiver.name, reason, len(dropped))
        return dropped

    def _count_drop(self, receiver: str, reason: str, count: int = 1) -> None:
        self._metrics.dropped.labels(receiver, reason).inc(count)
        self._metrics.notifications.labels(receiver, "dropped").inc(count)
        now = time.time()
        self.last_drop = (now, receiver, reason)
        if now - self._drops_logged.get((receiver, reason), 0.0) > DROP_LOG_INTERVAL:
            self._drops_logged[receiver, reason] = now
            log.warning(
                "receiver %s: dropping notifications (%s); "
                "batchgate_notifications_dropped_total counts them",
                receiver,
                reason,
            )


def _request_groups(
    receiver: Receiver, pending: list[tuple[int, Notification]]
) -> list[list[tuple[int, Notification]]]:
    """How `build_requests` will split these into requests (by the receiver's `group_by`,
    as rules.payloads.group_notifications does; Alertmanager takes them all in one)."""
    if receiver.integration == ALERTMANAGER:
        return [pending] if pending else []
    groups: dict[tuple[str, ...], list[tuple[int, Notification]]] = {}
    for outbox_id, notification in pending:
        key = tuple(notification.labels.get(name, "") for name in receiver.group_by)
        groups.setdefault(key, []).append((outbox_id, notification))
    return list(groups.values())
