"""Queues: what the runs that name a queue say of it, kept as they change.

A queue is known from its runs (`queue` in a push). The book follows each run in flight
(waiting or active) and counts each run that finishes, and each retry, in per-minute
buckets over the last day, so that a queue's figures cost the same whatever its history.
Pure: every time comes in as `now` or with the run.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from batchgate.collector.core.changes import ChangeLog
from batchgate.collector.core.model import (
    EMPTY_RUNS,
    RETRYING,
    RUNNING,
    WAIT_BUCKETS,
    WAITING_STATUSES,
    QueueSnapshot,
    Run,
    RunSummary,
)
from batchgate.collector.core.records import QueueHistory
from batchgate.rules.facts import QUEUE, JobKeyTuple, Labels

DAY: Final = 86400.0
HOUR: Final = 3600.0
MINUTE: Final = 60.0
MAX_QUEUES: Final = 10_000
"""Queues kept at most: beyond, a run naming a new queue is not followed in one, and a
broker's snapshot of a new queue is refused (a 429), so no client can grow the book
without bound. Queues with nothing in flight and nothing heard of for a day are dropped."""
SNAPSHOT_FRESH: Final = 300.0
"""For this long after a broker's snapshot, its count of waiting tasks is the queue's depth
(the broker sees tasks enqueued by code that does not report); then the runs' count is."""
MAX_COMMANDS: Final = 1000
"""Commands kept waiting per queue for its workers (the oldest go beyond)."""
MAX_TIMINGS: Final = 1000
"""Finished runs whose wait and run time a queue keeps for its percentiles (the newest)."""
OUTCOMES: Final = ("completed", "failed", "retried", "cancelled")
"""What a queue counts over a window: runs succeeded, failed or lost, attempts retried,
runs cancelled."""
_OUTCOME_OF: Final = {"succeeded": 0, "failed": 1, "lost": 1, "cancelled": 3}
_RETRIED: Final = 2


class Timing(NamedTuple):
    """A finished run's wait (None when it was not queued) and run time (None if unknown)."""

    at: float
    wait: float | None
    duration: float | None


@dataclass(slots=True)
class Queue:
    """One queue: its runs in flight, and what finished in it over the last day."""

    name: str
    first_seen_at: float
    waiting: dict[str, float] = field(default_factory=dict)
    """Run id -> since when it waits (queued, or retrying since its last attempt ended)."""
    active: set[str] = field(default_factory=set)
    buckets: deque[tuple[int, list[int]]] = field(default_factory=deque)
    """(minute, counts per OUTCOMES), oldest first, the last day's."""
    timings: deque[Timing] = field(default_factory=lambda: deque(maxlen=MAX_TIMINGS))
    finished_total: dict[str, int] = field(default_factory=dict)
    """Runs finished in the queue by final status, since the server started."""
    wait_total: list[float] = field(default_factory=lambda: [0.0, 0.0])
    """Waits of finished queued runs since the server started: count, sum..."""
    wait_buckets: list[int] = field(default_factory=lambda: [0] * len(WAIT_BUCKETS))
    """...and their counts per bucket of WAIT_BUCKETS (not cumulative)."""
    snapshot: QueueSnapshot | None = None
    """The broker's last word on the queue (a `queue_state` event), and when it was."""
    snapshot_at: float = 0.0
    last_seen_at: float = 0.0
    last_finished_at: float | None = None
    generation: int = 0
    """Bumped on every change, as a job's is: the rules skip an unchanged queue."""

    # What the rules read of a queue (`batchgate.rules.facts.QueueFacts`): a job of kind
    # `queue`, named as the queue and labelled `queue`, with no runs of its own.

    kind = QUEUE

    @property
    def key(self) -> JobKeyTuple:
        return (self.name, self.labels)

    @property
    def labels(self) -> Labels:
        return (("queue", self.name),)

    @property
    def running(self) -> dict[str, Run]:
        return EMPTY_RUNS

    @property
    def last_run(self) -> Run | None:
        return None

    @property
    def last_finished(self) -> Run | None:
        return None

    @property
    def recent(self) -> tuple[RunSummary, ...]:
        return ()

    @property
    def created_at(self) -> float:
        return self.first_seen_at

    @property
    def last_start_at(self) -> float | None:
        return None

    @property
    def last_success_at(self) -> float | None:
        return None

    @property
    def waiting_count(self) -> int:
        return len(self.waiting)

    def depth(self, now: float) -> tuple[int, float]:
        """Tasks waiting: the broker's count while its snapshot is fresh (SNAPSHOT_FRESH),
        else the runs'; and until when that answer holds without a change."""
        snapshot = self.snapshot
        if snapshot is not None and snapshot.waiting is not None:
            until = self.snapshot_at + SNAPSHOT_FRESH
            if now <= until:
                return snapshot.waiting, until
        return len(self.waiting), math.inf

    def waits_since(self, since: float) -> list[float]:
        return [t.wait for t in self.timings if t.at >= since and t.wait is not None]

    def finished_and_retried_since(self, since: float) -> tuple[int, int]:
        counts = self.counts_since(since)
        return counts["completed"] + counts["failed"] + counts["cancelled"], counts["retried"]

    def oldest_waiting_since(self) -> float | None:
        return min(self.waiting.values()) if self.waiting else None

    def count(self, outcome_index: int, at: float) -> None:
        """Count one outcome in the minute of `at`; a late one (a client's timestamp older
        than the newest minute) in the newest minute, so that the buckets stay in order."""
        minute = int(at // MINUTE)
        if self.buckets and self.buckets[-1][0] >= minute:
            self.buckets[-1][1][outcome_index] += 1
            return
        counts = [0] * len(OUTCOMES)
        counts[outcome_index] = 1
        self.buckets.append((minute, counts))

    def expire(self, now: float) -> None:
        """Drop the minutes older than a day."""
        horizon = int((now - DAY) // MINUTE)
        while self.buckets and self.buckets[0][0] <= horizon:
            self.buckets.popleft()

    def counts_since(self, since: float) -> dict[str, int]:
        """Runs per OUTCOMES in the minutes from `since` on."""
        first = int(since // MINUTE)
        totals = [0] * len(OUTCOMES)
        for minute, counts in reversed(self.buckets):
            if minute < first:
                break
            for index, value in enumerate(counts):
                totals[index] += value
        return dict(zip(OUTCOMES, totals, strict=True))


class QueueBook:
    """Every queue, kept by the live state as its runs change."""

    def __init__(self) -> None:
        self.queues: dict[str, Queue] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        """Commands for the workers of each queue (cancel a run, pause, resume), until a push
        that names the queue takes them (its answer carries them). In memory only."""
        self._where: dict[str, str] = {}
        """Run id -> the queue it is in flight in."""
        self.changes: ChangeLog[JobKeyTuple, Queue] = ChangeLog()
        """Queues changed or dropped since the rules last looked (while they watch)."""

    def queue(self, name: str, at: float) -> Queue | None:
        """The queue of this name, created if there is room (MAX_QUEUES)."""
        queue = self.queues.get(name)
        if queue is None:
            if len(self.queues) >= MAX_QUEUES:
                return None
            queue = self.queues[name] = Queue(name, at)
        queue.last_seen_at = max(queue.last_seen_at, at)
        queue.generation += 1
        self.changes.changed(queue.key, queue)
        return queue

    def room_for(self, names: set[str]) -> bool:
        """Whether the queues of these names can all be kept."""
        new = sum(1 for name in names if name not in self.queues)
        return len(self.queues) + new <= MAX_QUEUES

    def report(self, name: str, at: float, snapshot: QueueSnapshot) -> None:
        """A broker's snapshot of the queue (the newest one counts)."""
        queue = self.queue(name, at)
        if queue is not None and at >= queue.snapshot_at:
            queue.snapshot, queue.snapshot_at = snapshot, at

    def command(self, queue: str, command: dict[str, str]) -> None:
        """Keep a command for the queue's workers; a pause or resume replaces the other."""
        pending = self.commands.setdefault(queue, [])
        if command["command"] in ("pause", "resume"):
            pending[:] = [c for c in pending if c["command"] not in ("pause", "resume")]
        pending.append(command)
        del pending[:-MAX_COMMANDS]

    def take_commands(self, queues: set[str]) -> list[dict[str, str]]:
        """The commands waiting for these queues, given once."""
        taken: list[dict[str, str]] = []
        for name in sorted(queues):
            taken.extend(self.commands.pop(name, ()))
        return taken

    def drop_idle(self, now: float) -> int:
        """Forget the queues with nothing in flight and nothing heard of for a day."""
        idle = [
            name
            for name, queue in self.queues.items()
            if not queue.waiting and not queue.active and queue.last_seen_at < now - DAY
        ]
        for name in idle:
            self.changes.deleted(self.queues.pop(name).key)
        return len(idle)

    def follow(self, run: Run, kind: str, at: float) -> None:
        """Take a change of a run that names a queue (`Change.kind`): where it is now, and
        a finish or a retry counted at `at`."""
        name = run.queue
        if name is None or (kind == "progress" and self._where.get(run.run_id) == name):
            return  # progress of a run in flight changes nothing here: the hot path
        self._leave(run.run_id)
        queue = self.queue(name, at)
        if queue is None:
            return
        if run.status in WAITING_STATUSES:
            queue.waiting[run.run_id] = _waiting_since(run)
            self._where[run.run_id] = name
        elif run.status == RUNNING:
            queue.active.add(run.run_id)
            self._where[run.run_id] = name
        if kind == "retrying":
            queue.count(_RETRIED, at)
        elif kind == "finished":
            self._finished(queue, run, at)

    def restore(self, history: QueueHistory, waiting: Iterable[Run], now: float) -> None:
        """Take back the last day of the queues from the store at a start (`QueueHistory`)
        and from the runs in flight (their attempts retried): their windows, percentiles
        and last finish, as if the runs had been followed. The totals since the server
        started (`batchgate_queue_runs_total`, the wait histogram) start again at zero."""
        minutes: dict[str, dict[int, list[int]]] = {}

        def bucket(name: str, minute: int) -> list[int]:
            return minutes.setdefault(name, {}).setdefault(minute, [0] * len(OUTCOMES))

        last: dict[str, float] = {}
        for name, minute, status, runs, ended in history.counts:
            index = _OUTCOME_OF.get(status)
            if index is not None:
                bucket(name, int(minute))[index] += int(runs)
                last[name] = max(last.get(name, ended), ended)
        since = now - DAY
        retried = [(name, json.loads(text)) for name, text in history.retries]
        retried += [(run.queue, run.attempts) for run in waiting if run.queue and run.attempts]
        for name, attempts in retried:
            for attempt in attempts:
                ended_at, outcome = attempt[2], attempt[3]
                if outcome == "retry" and ended_at is not None and ended_at >= since:
                    bucket(name, int(ended_at // MINUTE))[_RETRIED] += 1
        for name, counted in minutes.items():
            queue = self.queue(name, last.get(name, now))
            if queue is None:
                continue
            for minute, counts in queue.buckets:
                for index, value in enumerate(counts):
                    counted.setdefault(minute, [0] * len(OUTCOMES))[index] += value
            queue.buckets = deque(sorted(counted.items()))
            if name in last:
                queue.last_finished_at = max(queue.last_finished_at or 0.0, last[name])
        for name, finished_at, wait, duration in history.timings:
            queue = self.queues.get(name)
            if queue is not None:
                queue.timings.append(Timing(finished_at, wait, duration))

    def forget(self, run_ids: list[str]) -> None:
        """Runs deleted with their job."""
        for run_id in run_ids:
            self._leave(run_id)

    def _leave(self, run_id: str) -> None:
        name = self._where.pop(run_id, None)
        if name is not None:
            queue = self.queues[name]
            queue.waiting.pop(run_id, None)
            queue.active.discard(run_id)

    def _finished(self, queue: Queue, run: Run, at: float) -> None:
        index = _OUTCOME_OF.get(run.status)
        if index is None:
            return
        queue.count(index, at)
        queue.last_finished_at = max(queue.last_finished_at or at, at)
        queue.finished_total[run.status] = queue.finished_total.get(run.status, 0) + 1
        wait = run.wait_seconds
        if wait is not None:
            queue.wait_total[0] += 1
            queue.wait_total[1] += wait
            for index, bound in enumerate(WAIT_BUCKETS):
                if wait <= bound:
                    queue.wait_buckets[index] += 1
                    break
        queue.timings.append(Timing(at, wait, run.duration))


def _waiting_since(run: Run) -> float:
    if run.status == RETRYING and run.attempts and run.attempts[-1].ended_at is not None:
        return run.attempts[-1].ended_at
    return run.queued_at if run.queued_at is not None else run.started_at


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """A queue's figures at one instant (what `GET /queues` shows)."""

    name: str
    waiting: int
    """The broker's count while its snapshot is fresh (SNAPSHOT_FRESH), else `waiting_runs`."""
    waiting_runs: int
    """Runs known to wait in it (queued or retrying)."""
    active: int
    oldest_waiting_seconds: float | None
    last_hour: dict[str, int]
    last_day: dict[str, int]
    throughput_per_minute: float
    """Runs finished per minute over the last hour."""
    wait_p50: float | None
    wait_p95: float | None
    run_p50: float | None
    run_p95: float | None
    finished_total: dict[str, int]
    wait_count: int
    wait_sum: float
    wait_buckets: tuple[int, ...]
    delayed: int | None
    paused: bool | None
    broker_reported_at: float | None


def figures(queue: Queue, now: float) -> QueueFigures:
    """The queue's figures at `now`; percentiles over the runs finished in the last hour
    (at most MAX_TIMINGS, the newest)."""
    queue.expire(now)
    last_hour = queue.counts_since(now - HOUR)
    recent = [timing for timing in queue.timings if timing.at >= now - HOUR]
    waits = sorted(t.wait for t in recent if t.wait is not None)
    durations = sorted(t.duration for t in recent if t.duration is not None)
    oldest = queue.oldest_waiting_since()
    finished_hour = last_hour["completed"] + last_hour["failed"] + last_hour["cancelled"]
    snapshot = queue.snapshot
    return QueueFigures(
        name=queue.name,
        waiting=queue.depth(now)[0],
        waiting_runs=len(queue.waiting),
        active=len(queue.active),
        oldest_waiting_seconds=max(0.0, now - oldest) if oldest is not None else None,
        last_hour=last_hour,
        last_day=queue.counts_since(now - DAY),
        throughput_per_minute=finished_hour / 60.0,
        wait_p50=percentile(waits, 0.5),
        wait_p95=percentile(waits, 0.95),
        run_p50=percentile(durations, 0.5),
        run_p95=percentile(durations, 0.95),
        finished_total=dict(queue.finished_total),
        wait_count=int(queue.wait_total[0]),
        wait_sum=queue.wait_total[1],
        wait_buckets=tuple(queue.wait_buckets),
        delayed=snapshot.delayed if snapshot is not None else None,
        paused=snapshot.paused if snapshot is not None else None,
        broker_reported_at=queue.snapshot_at if snapshot is not None else None,
    )


def percentile(ordered: list[float], q: float) -> float | None:
    """The q-quantile of sorted values, interpolated between neighbours."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
