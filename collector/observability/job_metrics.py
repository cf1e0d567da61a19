"""`batchgate_job_*`: each job's metrics, rendered by prometheus_client and kept per job.

prometheus_client formats some 35 samples per job at about 4 us each: rendered whole, a
scrape of 10,000 jobs would hold the event loop for seconds, and every push with it (a
thread does not help: the rendering holds the GIL). So each job's lines are rendered
through a one-job registry when the job changes (its `generation`, or its derived
status, which time alone can move) and kept; a scrape joins the kept lines family by
family, re-rendering only the jobs that changed since the last one, a chunk at a time
between yields to the event loop. The formatting is prometheus_client's own throughout.

The custom metrics runs report (`{"metrics": {"rows_per_second": 1200}}`) are one family,
`batchgate_job_metric{name="rows_per_second"}`, not a family per name: see docs/decisions.md
("Custom metrics on /metrics").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import NamedTuple

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import Collector

from batchgate.collector.core.events import PushLimits
from batchgate.collector.core.model import (
    BATCH,
    DURATION_BUCKETS,
    FINISHED_STATUSES,
    JOB_STATUSES,
    WAIT_BUCKETS,
    Job,
    JobKey,
    Run,
)
from batchgate.collector.core.state import State

RENDER_CHUNK = 50
"""Jobs rendered between two yields to the event loop (about 7 ms of work)..."""
JOIN_CHUNK = 2000
"""...or jobs whose kept lines are gathered (about 2 ms)."""

_BOUNDS = tuple(repr(bound) for bound in DURATION_BUCKETS)
_WAIT_BOUNDS = tuple(repr(bound) for bound in WAIT_BUCKETS)
DEFAULT_MAX_METRICS = PushLimits().max_metrics
METRIC_NAME_LABEL = "name"
"""The label of `batchgate_job_metric` that holds a custom metric's name (`exported_name`
for a job whose grouping key has a `name` of its own, as Prometheus renames a scraped label
that clashes with a target's)."""


class JobFigures(NamedTuple):
    """One job's metric values at one instant."""

    labels: dict[str, str]
    status: str
    last_start: float | None
    last_success: float | None
    last_failure: float | None
    last_seen: float | None
    last_duration: float | None
    runs: tuple[int, ...]
    """Finished runs per FINISHED_STATUSES."""
    running: int
    progress: float | None
    done: float | None
    total: float | None
    errors: float | None
    cpu: float | None
    memory: float | None
    buckets: tuple[int, ...]
    duration_count: int
    duration_sum: float
    metrics: tuple[tuple[str, float], ...] = ()
    """The last value of each custom metric, by name (`last_metrics`)."""
    queued: int = 0
    """Runs waiting for a worker (queued or retrying)."""
    retries: int = 0
    wait_buckets: tuple[int, ...] = ()
    """Per WAIT_BUCKETS; empty for a job none of whose runs was queued or retried, whose
    wait histogram and retries are not exposed (most cron jobs: no lines for nothing)."""
    wait_count: int = 0
    wait_sum: float = 0.0


def last_metrics(job: Job, limit: int) -> tuple[tuple[str, float], ...]:
    """The last value of each custom metric the job's runs report: its latest run's, and
    its last finished run's for the names the latest has not reported yet (a metric pushed
    at the end of a run stays through the next run until that one reports it). At most
    `limit` names, the first in name order: a run may report up to `limits.max_metrics`
    names an event, but different ones in each event."""
    runs: list[Run] = [run for run in (job.last_finished, job.last_run) if run is not None]
    values: dict[str, float] = {}
    for run in sorted(set(runs), key=lambda run: run.last_event_at):  # the newest wins
        values.update(run.metrics)
    return tuple(sorted(values.items())[:limit])


def figures(job: Job, status: str, max_metrics: int = DEFAULT_MAX_METRICS) -> JobFigures:
    labels = dict(job.labels)
    labels["job"] = job.name
    run = job.last_run
    return JobFigures(
        labels,
        status,
        job.last_start_at,
        job.last_success_at,
        job.last_failure_at,
        job.last_seen_at,
        job.last_duration,
        tuple(job.counts.get(status, 0) for status in FINISHED_STATUSES),
        len(job.running),
        run.progress_ratio() if run is not None else None,
        run.readings.done if run is not None else None,
        run.readings.total if run is not None else None,
        run.readings.errors if run is not None else None,
        run.readings.cpu_percent if run is not None else None,
        run.readings.memory_bytes if run is not None else None,
        tuple(job.duration_buckets),
        job.duration_count,
        job.duration_sum,
        last_metrics(job, max_metrics),
        len(job.waiting),
        job.retries,
        tuple(job.wait_buckets) if job.wait_count or job.retries or job.waiting else (),
        job.wait_count,
        job.wait_sum,
    )


class _Rendered(NamedTuple):
    version: tuple[object, ...]
    """What the lines were rendered from (see `_versions`)."""
    samples: tuple[str, ...]
    """Sample lines of each family, in the order of the part's headers."""


LIVE, HISTORY = "live", "history"
PARTS = (LIVE, HISTORY)
"""A job's families in two parts, kept apart because they change at different rates: the
live part (status, the running run's progress and resources) with every event, the
history part (timestamps, counters, the duration histogram) only when a run starts or
ends, so that a progress event costs the re-rendering of a few samples, not 35."""


def _versions(job: Job, status: str) -> dict[str, tuple[object, ...]]:
    return {
        LIVE: (job.id, job.generation, status),
        HISTORY: (
            job.id, job.last_start_at, job.last_finished_at, job.duration_count,
            tuple(job.counts.values()), job.retries, job.wait_count, bool(job.waiting),
        ),
    }  # fmt: skip


class JobExposition:
    """The per-job lines of the last scrape, in each exposition format asked for."""

    def __init__(self) -> None:
        self._kept: dict[tuple[JobKey, bool, str], _Rendered] = {}
        self._headers: dict[tuple[bool, str], tuple[str, ...]] = {}
        """HELP and TYPE lines of each family, in the order they are exposed, per format
        and part."""

    async def render(
        self,
        state: State,
        now: float,
        openmetrics: bool,
        max_metrics: int = DEFAULT_MAX_METRICS,
    ) -> bytes:
        """Every batch job's families, without OpenMetrics' end line; at most `max_metrics`
        custom metrics a job (`limits.max_metrics_per_event`)."""
        encoder = openmetrics_latest if openmetrics else generate_latest
        settings = state.settings
        rows: dict[str, list[tuple[str, ...]]] = {part: [] for part in PARTS}
        kept = set()
        rendered = 0
        jobs = [job for job in state.jobs.values() if job.kind == BATCH]
        for position, job in enumerate(jobs, start=1):
            status = job.status(now, settings.stuck_after, settings.lost_after)
            for part, version in _versions(job, status).items():
                key = (job.key, openmetrics, part)
                entry = self._kept.get(key)
                if entry is None or entry.version != version:
                    registry = _one_job(figures(job, status, max_metrics), part)
                    text = encoder(registry).decode().removesuffix("# EOF\n")
                    headers, samples = _split(text)
                    self._headers.setdefault((openmetrics, part), headers)
                    entry = self._kept[key] = _Rendered(version, samples)
                    rendered += 1
                kept.add(key)
                rows[part].append(entry.samples)
            if rendered >= RENDER_CHUNK or position % JOIN_CHUNK == 0:
                rendered = 0
                await asyncio.sleep(0)
        for key in [key for key in self._kept if key[1] == openmetrics and key not in kept]:
            del self._kept[key]  # deleted jobs
        text = []
        for part in PARTS:
            headers = self._headers.get((openmetrics, part), ())
            columns = zip(*rows[part], strict=True) if rows[part] else iter(())
            text.extend(
                header + "".join(column) for header, column in zip(headers, columns, strict=False)
            )
        return "".join(text).encode()


def _one_job(job: JobFigures, part: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector([job], part))
    return registry


def _split(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An exposition's HELP/TYPE lines and sample lines of each family, in order (every
    job's exposition has the same families in the same order: JobCollector yields them
    all, with or without samples)."""
    headers = []
    samples = []
    # A family starts at a line that starts with "# HELP " (a label value may hold that
    # text, never a line break: the exposition escapes it).
    for block in ("\n" + text).split("\n# HELP ")[1:]:
        help_line, type_line, rest = (block if block.endswith("\n") else block + "\n").split(
            "\n", 2
        )
        headers.append(f"# HELP {help_line}\n{type_line}\n")
        samples.append(rest)
    return tuple(headers), tuple(samples)


def _gauge(name: str, documentation: str) -> Metric:
    return Metric(f"batchgate_job_{name}", documentation, "gauge")


class JobCollector(Collector):
    """Yields the live or the history part of `batchgate_job_*` from job figures."""

    def __init__(self, jobs: list[JobFigures], part: str) -> None:
        self._jobs = jobs
        self._part = part

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        status = Metric(
            "batchgate_job_status",
            f"The job's derived status: 1 for the status it is in ({', '.join(JOB_STATUSES)}).",
            "gauge",
        )
        seen = _gauge("last_seen_timestamp_seconds", "When the job last pushed anything.")
        timestamps = [
            _gauge("last_start_timestamp_seconds", "When the job's last run started."),
            _gauge("last_success_timestamp_seconds", "When a run of the job last succeeded."),
            _gauge(
                "last_failure_timestamp_seconds", "When a run of the job last failed or was lost."
            ),
            _gauge("last_duration_seconds", "How long the job's last finished run took."),
        ]
        runs = Metric("batchgate_job_runs", "Finished runs of the job by final status.", "counter")
        running = _gauge("running", "Runs of the job in flight now.")
        queued = _gauge("queued", "Runs of the job waiting for a worker (queued or retrying).")
        retries = Metric(
            "batchgate_job_retries",
            "Attempts of the job's runs that ended in a retry (jobs whose runs queue or retry).",
            "counter",
        )
        waits = Metric(
            "batchgate_job_wait_seconds",
            "How long the job's queued runs waited before their first attempt.",
            "histogram",
        )
        last_run = [
            _gauge("progress_ratio", "How far along the job's last run is, from 0 to 1."),
            _gauge("records_processed", "Records the job's last run reported done."),
            # Named as specified; untyped because Prometheus reserves `_total` for counters
            # and this is the last run's planned record count, not something to rate().
            Metric(
                "batchgate_job_records_total",
                "Records the job's last run reported it has to process in all.",
                "untyped",
            ),
            _gauge("errors", "Errors the job's last run reported."),
            _gauge("cpu_percent", "CPU use of the job's last run, in percent of one core."),
            _gauge("memory_bytes", "Resident memory of the job's last run."),
        ]
        durations = Metric(
            "batchgate_job_duration_seconds",
            "How long the job's finished runs took (lost runs are not counted).",
            "histogram",
        )
        custom = _gauge(
            "metric",
            "The last value of each custom metric the job's runs report (`metrics` in a push), "
            "its name in the label `name`.",
        )
        for job in self._jobs:
            labels = job.labels
            status.add_sample(status.name, {**labels, "status": job.status}, 1.0)
            if job.last_seen is not None:
                seen.add_sample(seen.name, labels, job.last_seen)
            stamps = (job.last_start, job.last_success, job.last_failure, job.last_duration)
            for family, value in zip(timestamps, stamps, strict=True):
                if value is not None:
                    family.add_sample(family.name, labels, value)
            for final, count in zip(FINISHED_STATUSES, job.runs, strict=True):
                runs.add_sample(
                    "batchgate_job_runs_total", {**labels, "status": final}, float(count)
                )
            running.add_sample(running.name, labels, float(job.running))
            queued.add_sample(queued.name, labels, float(job.queued))
            if job.wait_buckets:
                retries.add_sample("batchgate_job_retries_total", labels, float(job.retries))
                _histogram(waits, labels, _WAIT_BOUNDS, job.wait_buckets, job.wait_count)
                waits.add_sample("batchgate_job_wait_seconds_sum", labels, job.wait_sum)
            values = (job.progress, job.done, job.total, job.errors, job.cpu, job.memory)
            for family, value in zip(last_run, values, strict=True):
                if value is not None:
                    family.add_sample(family.name, labels, value)
            cumulative = 0
            for bound, count in zip(_BOUNDS, job.buckets, strict=True):
                cumulative += count
                durations.add_sample(
                    "batchgate_job_duration_seconds_bucket",
                    {**labels, "le": bound},
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
            name_label = METRIC_NAME_LABEL
            while name_label in labels:
                name_label = f"exported_{name_label}"
            for name, value in job.metrics:
                custom.add_sample(custom.name, {**labels, name_label: name}, value)
        if self._part == LIVE:
            yield status
            yield seen
            yield running
            yield queued
            yield from last_run
            yield custom
        else:
            yield from timestamps
            yield runs
            yield durations
            yield retries
            yield waits


def _histogram(
    family: Metric,
    labels: dict[str, str],
    bounds: tuple[str, ...],
    buckets: tuple[int, ...],
    count: int,
) -> None:
    """A histogram's cumulative buckets and count, from counts per bucket."""
    cumulative = 0
    for bound, in_bucket in zip(bounds, buckets, strict=True):
        cumulative += in_bucket
        family.add_sample(f"{family.name}_bucket", {**labels, "le": bound}, float(cumulative))
    family.add_sample(f"{family.name}_bucket", {**labels, "le": "+Inf"}, float(count))
    family.add_sample(f"{family.name}_count", labels, float(count))
