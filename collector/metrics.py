"""`/metrics`: derived job metrics from a snapshot of the state, and batchgate's own metrics.

Every app owns a fresh `CollectorRegistry`; nothing is registered globally. Derived
metrics come from a custom Collector whose `collect()` walks the jobs at scrape time,
so they cannot drift from the state they describe.
"""

from __future__ import annotations

import collections
import platform
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector import __version__
from collector.model import (
    DURATION_BUCKETS,
    EVENT_TYPES,
    FINISHED_STATUSES,
    JOB_STATUSES,
    Event,
    Job,
)

if TYPE_CHECKING:
    from collector.live import EventBus
    from collector.state import State
    from collector.writer import Writer

PUSH_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


def _labels(job: Job) -> dict[str, str]:
    labels = dict(job.labels)
    labels["job"] = job.name
    return labels


class JobCollector(Collector):
    """Yields `batchgate_job_*` for every batch job from the live state at scrape time."""

    def __init__(self, state: State, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        settings = self._state.settings
        jobs = [job for job in self._state.jobs.values() if job.kind == "batch"]

        def family(name: str, documentation: str, typ: str = "gauge") -> Metric:
            return Metric(name, documentation, typ)

        status = family(
            "batchgate_job_status",
            "The job's derived status: 1 for the status it is in ("
            + ", ".join(JOB_STATUSES)
            + ").",
        )
        last_start = family(
            "batchgate_job_last_start_timestamp_seconds", "When the job's last run started."
        )
        last_success = family(
            "batchgate_job_last_success_timestamp_seconds", "When a run of the job last succeeded."
        )
        last_failure = family(
            "batchgate_job_last_failure_timestamp_seconds",
            "When a run of the job last failed or was lost.",
        )
        last_seen = family(
            "batchgate_job_last_seen_timestamp_seconds", "When the job last pushed anything."
        )
        last_duration = family(
            "batchgate_job_last_duration_seconds", "How long the job's last finished run took."
        )
        runs = family("batchgate_job_runs", "Finished runs of the job by final status.", "counter")
        running = family("batchgate_job_running", "Runs of the job in flight now.")
        ratio = family(
            "batchgate_job_progress_ratio", "How far along the job's last run is, from 0 to 1."
        )
        processed = family(
            "batchgate_job_records_processed", "Records the job's last run reported done."
        )
        # Named as specified; untyped because Prometheus reserves `_total` for counters and
        # this is the last run's planned record count, not something to rate().
        planned = family(
            "batchgate_job_records_total",
            "Records the job's last run reported it has to process in all.",
            "untyped",
        )
        errors = family("batchgate_job_errors", "Errors the job's last run reported.")
        cpu = family(
            "batchgate_job_cpu_percent", "CPU use of the job's last run, in percent of one core."
        )
        memory = family("batchgate_job_memory_bytes", "Resident memory of the job's last run.")
        durations = family(
            "batchgate_job_duration_seconds",
            "How long the job's finished runs took (lost runs are not counted).",
            "histogram",
        )

        for job in jobs:
            labels = _labels(job)
            status.add_sample(
                "batchgate_job_status",
                {**labels, "status": job.status(now, settings.stuck_after, settings.lost_after)},
                1.0,
            )
            for gauge, value in (
                (last_start, job.last_start_at),
                (last_success, job.last_success_at),
                (last_failure, job.last_failure_at),
                (last_seen, job.last_seen_at),
                (last_duration, job.last_duration),
            ):
                if value is not None:
                    gauge.add_sample(gauge.name, labels, value)
            for final in FINISHED_STATUSES:
                runs.add_sample(
                    "batchgate_job_runs_total",
                    {**labels, "status": final},
                    float(job.counts.get(final, 0)),
                )
            running.add_sample("batchgate_job_running", labels, float(len(job.running)))
            run = job.last_run
            if run is not None:
                progress = run.progress_ratio()
                for gauge, value in (
                    (ratio, progress),
                    (processed, run.done),
                    (planned, run.total),
                    (errors, run.errors),
                    (cpu, run.cpu_percent),
                    (memory, run.memory_bytes),
                ):
                    if value is not None:
                        gauge.add_sample(gauge.name, labels, value)
            cumulative = 0
            for bound, count in zip(DURATION_BUCKETS, job.duration_buckets, strict=True):
                cumulative += count
                durations.add_sample(
                    "batchgate_job_duration_seconds_bucket",
                    {**labels, "le": _bound(bound)},
                    float(cumulative),
                )
            durations.add_sample(
                "batchgate_job_duration_seconds_bucket",
                {**labels, "le": "+Inf"},
                float(job.duration_count),
            )
            durations.add_sample(
                "batchgate_job_duration_seconds_count", labels, float(job.duration_count)
            )
            durations.add_sample("batchgate_job_duration_seconds_sum", labels, job.duration_sum)

        yield from (
            status, last_start, last_success, last_failure, last_seen, last_duration, runs,
            running, ratio, processed, planned, errors, cpu, memory, durations,
        )  # fmt: skip


def _bound(bound: float) -> str:
    return repr(bound)


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
