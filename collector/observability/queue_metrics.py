"""`batchgate_queue_*`: each queue's depth, oldest wait, finished runs and waits, from the
queues the live state keeps (`core.queues`), labelled `queue`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from batchgate.collector.core.model import FINISHED_STATUSES, WAIT_BUCKETS
from batchgate.collector.core.queues import figures
from batchgate.collector.core.state import State

_WAIT_BOUNDS = tuple(repr(bound) for bound in WAIT_BUCKETS)


class QueueCollector(Collector):
    """Yields every queue's families from a snapshot of the live state's queues."""

    def __init__(self, state: State, clock: Callable[[], float]) -> None:
        self._state = state
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        waiting = Metric(
            "batchgate_queue_waiting", "Runs waiting in the queue (queued or retrying).", "gauge"
        )
        active = Metric("batchgate_queue_active", "Runs of the queue running now.", "gauge")
        oldest = Metric(
            "batchgate_queue_oldest_waiting_seconds",
            "How long the queue's longest waiting run has waited (absent when none waits).",
            "gauge",
        )
        runs = Metric(
            "batchgate_queue_runs",
            "Runs of the queue finished by final status, since the server started.",
            "counter",
        )
        waits = Metric(
            "batchgate_queue_wait_seconds",
            "How long the queue's finished runs waited before their first attempt, since the "
            "server started.",
            "histogram",
        )
        delayed = Metric(
            "batchgate_queue_delayed",
            "Tasks the broker holds for later (a countdown, a retry's delay), as it last said.",
            "gauge",
        )
        paused = Metric(
            "batchgate_queue_paused", "1 while the broker says the queue is paused.", "gauge"
        )
        now = self._clock()
        for name in sorted(self._state.queues.queues):
            queue = figures(self._state.queues.queues[name], now)
            labels = {"queue": name}
            waiting.add_sample(waiting.name, labels, float(queue.waiting))
            active.add_sample(active.name, labels, float(queue.active))
            if queue.delayed is not None:
                delayed.add_sample(delayed.name, labels, float(queue.delayed))
            if queue.paused is not None:
                paused.add_sample(paused.name, labels, float(queue.paused))
            if queue.oldest_waiting_seconds is not None:
                oldest.add_sample(oldest.name, labels, queue.oldest_waiting_seconds)
            for status in FINISHED_STATUSES:
                runs.add_sample(
                    "batchgate_queue_runs_total",
                    {**labels, "status": status},
                    float(queue.finished_total.get(status, 0)),
                )
            cumulative = 0
            for bound, count in zip(_WAIT_BOUNDS, queue.wait_buckets, strict=True):
                cumulative += count
                waits.add_sample(f"{waits.name}_bucket", {**labels, "le": bound}, float(cumulative))
            waits.add_sample(f"{waits.name}_bucket", {**labels, "le": "+Inf"}, queue.wait_count)
            waits.add_sample(f"{waits.name}_count", labels, float(queue.wait_count))
            waits.add_sample(f"{waits.name}_sum", labels, queue.wait_sum)
        yield from (waiting, active, delayed, paused, oldest, runs, waits)
