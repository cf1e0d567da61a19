"""batchgate's own metrics (requests, push latency, the store, live listeners, build).

Every app owns a fresh `CollectorRegistry`; nothing is registered globally. The per-job
metrics are in `collector.observability.job_metrics`, rendered from a snapshot off the event loop.
"""

from __future__ import annotations

import collections
import platform
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from batchgate.collector import __version__
from batchgate.collector.core.model import (
    EVENT_TYPES,
    Event,
)

if TYPE_CHECKING:
    from batchgate.collector.core.state import State
    from batchgate.collector.leadership import Leadership
    from batchgate.collector.live import EventBus
    from batchgate.collector.storage.writer import Writer

PUSH_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class ServerCollector(Collector):
    """batchgate's own state: jobs, running runs, the write queue, live listeners, build."""

    def __init__(self, state: State, writer: Writer, bus: EventBus) -> None:
        self._state = state
        self._writer = writer
        self._bus = bus

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            "batchgate_build_info",
            "batchgate's version and the Python it runs on; always 1.",
            labels=["version", "python"],
        )
        build.add_metric([__version__, platform.python_version()], 1.0)
        yield build
        yield GaugeMetricFamily(
            "batchgate_jobs", "Jobs batchgate knows.", value=len(self._state.jobs)
        )
        yield GaugeMetricFamily(
            "batchgate_runs_running",
            "Runs in flight across all jobs.",
            value=sum(len(job.running) for job in self._state.jobs.values()),
        )
        yield GaugeMetricFamily(
            "batchgate_write_queue_length",
            "Records waiting to be committed to the store.",
            value=self._writer.pending,
        )
        yield GaugeMetricFamily(
            "batchgate_store_healthy",
            "1 when the last commit to the store succeeded, 0 while commits fail.",
            value=0.0 if self._writer.error else 1.0,
        )
        yield GaugeMetricFamily(
            "batchgate_store_wal_bytes",
            "Bytes the store's write-ahead log holds since it last started over (what a "
            "start after a crash reads); /health is degraded past its bound.",
            value=self._writer.store.wal_bytes(),
        )
        commits = Metric("batchgate_store_commits", "Group commits made to the store.", "counter")
        commits.add_sample("batchgate_store_commits_total", {}, float(self._writer.commits))
        yield commits
        failures = Metric(
            "batchgate_store_commit_failures", "Group commits the store refused.", "counter"
        )
        failures.add_sample(
            "batchgate_store_commit_failures_total", {}, float(self._writer.failed_commits)
        )
        yield failures
        records = Metric(
            "batchgate_store_committed_records", "Records made durable by commits.", "counter"
        )
        records.add_sample(
            "batchgate_store_committed_records_total", {}, float(self._writer.committed_records)
        )
        yield records
        yield GaugeMetricFamily(
            "batchgate_events_subscribers",
            "Clients following GET /events.",
            value=self._bus.subscribers,
        )
        dropped = Metric(
            "batchgate_events_dropped",
            "Live events dropped because a listener fell behind.",
            "counter",
        )
        dropped.add_sample("batchgate_events_dropped_total", {}, float(self._bus.dropped))
        yield dropped


class LeadershipCollector(Collector):
    """Whether this node leads, and how often its role changed (read from its Leadership)."""

    def __init__(self, leadership: Leadership) -> None:
        self._leadership = leadership

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "batchgate_leader",
            "1 on the node that leads (always, with SQLite), 0 on a standby.",
            value=1.0 if self._leadership.leads else 0.0,
        )
        changes = Metric(
            "batchgate_leader_changes",
            "Times this node became the leader or stopped being it.",
            "counter",
        )
        changes.add_sample("batchgate_leader_changes_total", {}, float(self._leadership.changes))
        yield changes


class LeaseMetrics:
    """How long claims of the leadership lease take (PostgreSQL only)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.renewal_seconds = Histogram(
            "batchgate_lease_renewal_seconds",
            "Time taken by each claim of the leadership lease (a renewal on the leader, an "
            "attempt to take it on a standby), answered by the database.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )


class RequestMetrics:
    """Request counts and push latency, recorded by the middleware and the push handler."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "batchgate_http_requests",
            "HTTP requests answered, by handler and status code.",
            ["handler", "code"],
            registry=registry,
        )
        self.push_latency = Histogram(
            "batchgate_push_duration_seconds",
            "Time from receiving a push to acknowledging it durable.",
            ["endpoint"],
            buckets=PUSH_LATENCY_BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            "batchgate_push_events",
            "Events received on POST /push, by event type.",
            ["event"],
            registry=registry,
        )
        self.duplicates = Counter(
            "batchgate_push_duplicate_events",
            "Events whose event_id had already been applied.",
            registry=registry,
        )
        # Children looked up once: .labels() takes a lock and builds a key on every call.
        self._requests: dict[tuple[str, int], Counter] = {}
        self._events = {event: self.events.labels(event) for event in EVENT_TYPES}
        self.push_seconds = self.push_latency.labels("push")
        self.pushgateway_seconds = self.push_latency.labels("pushgateway")
        self.otlp_seconds = self.push_latency.labels("otlp")

    def count_request(self, handler: str, code: int) -> None:
        child = self._requests.get((handler, code))
        if child is None:
            child = self._requests[handler, code] = self.requests.labels(handler, str(code))
        child.inc()

    def count_events(self, events: list[Event]) -> None:
        if len(events) == 1:
            self._events[events[0].type].inc()
            return
        for event_type, count in collections.Counter(e.type for e in events).items():
            self._events[event_type].inc(count)
