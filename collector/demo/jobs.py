"""What `batchgate demo`'s simulated jobs are and do: their catalog, the work of one run
(through the client SDK's `Job`), and the history pushed for them. No I/O of its own: the
work functions report through the `Job` they are given, and `history_events` only builds
events; `batchgate.collector.demo.run` sends them.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batchgate import Job

HISTORY_DAYS = 7
TICK = 0.25
"""Seconds between two progress updates of a simulated job."""


Work = Callable[[Job, "Simulated", random.Random, threading.Event], None]


@dataclass(frozen=True, slots=True)
class Simulated:
    """One simulated job: how its history looked and how its live runs go."""

    name: str
    what: str
    work: Work
    labels: Mapping[str, str] = field(default_factory=dict)
    every: float = 60.0
    """Live runs: seconds from one start to the next (0: one run, for the whole demo)."""
    duration: float = 20.0
    """Typical seconds of a live run."""
    history_every: float = 3600.0
    history_duration: float | None = None
    """Typical seconds of a run in the history (default: as a live run)."""
    history_until: float = 0.0
    """The history stops this many seconds before now (a job that missed its schedule)."""
    fail_rate: float = 0.0
    failure: str = ""
    live: bool = True
    start_after: float = 0.0


# -- what the simulated jobs do ----------------------------------------------------------


def _ticks(spec: Simulated, rng: random.Random) -> int:
    return max(4, int(spec.duration * rng.uniform(0.8, 1.25) / TICK))


def _sleep_or_cancel(job: Job, stop: threading.Event, seconds: float = TICK) -> bool:
    """Wait one tick; True (and the run cancelled) if the demo is stopping."""
    if stop.wait(seconds):
        job.cancel("the demo was stopped")
        return True
    return False


def records(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """ETL: load records, count the bad ones, report rows per second."""
    total = rng.randrange(15_000, 25_000)
    ticks = _ticks(spec, rng)
    fail_at = rng.randrange(ticks // 2, ticks) if rng.random() < spec.fail_rate else None
    errors = 0
    started = time.monotonic()
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        if step == fail_at:
            job.fail(spec.failure, exit_code=1)
            return
        errors += rng.random() < 0.1
        done = total * step // ticks
        job.progress(done=done, total=total, errors=errors)
        job.metric("rows_per_second", round(done / max(0.001, time.monotonic() - started), 1))


def percent(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """Analytics: a few stages, reported as a percentage."""
    ticks = _ticks(spec, rng)
    fail_at = rng.randrange(ticks // 3, ticks) if rng.random() < spec.fail_rate else None
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        if step == fail_at:
            job.fail(spec.failure, exit_code=1)
            return
        job.progress(percent=round(100.0 * step / ticks, 1))


def backup(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """A backup copying files; a full disk fails it with rsync's exit code."""
    files = rng.randrange(800, 1200)
    ticks = _ticks(spec, rng)
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        done = files * step // ticks
        job.progress(done=done, total=files)
        job.metric("bytes_copied", done * 3_500_000)
        if spec.fail_rate and step > ticks * 0.6 and rng.random() < spec.fail_rate:
            job.fail(spec.failure, exit_code=11)
            return


def iterations(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """A computation converging over many iterations (estimating pi)."""
    ticks = _ticks(spec, rng)
    inside = 0
    samples = 0
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        for _ in range(200):
            x, y = rng.random(), rng.random()
            inside += x * x + y * y <= 1.0
        samples += 200
        job.progress(percent=round(100.0 * step / ticks, 2))
        job.metric("iterations", samples)
        job.metric("pi_error", abs(4 * inside / samples - 3.141592653589793))


def pages(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """Report generation: pages rendered of a total."""
    total = rng.randrange(40, 90)
    ticks = _ticks(spec, rng)
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        job.progress(done=total * step // ticks, total=total)


CATALOG = (
    Simulated("etl_orders", "ETL, records", records, {"region": "eu"}, every=40, duration=24,
              fail_rate=0.06, failure="ValueError: bad record at offset 18231: date '2024-02-30'"),
    Simulated("etl_orders", "ETL, records", records, {"region": "us"}, every=50, duration=30,
              fail_rate=0.04, failure="ConnectionError: source database closed the connection",
              start_after=6),
    Simulated("analytics_daily", "analytics", percent, every=60, duration=15,
              history_every=4 * 3600, fail_rate=0.25, failure="KeyError: 'revenue'",
              start_after=3),
    Simulated("backup_db", "backup", backup, {"host": "db1"}, every=90, duration=12,
              history_every=86400, start_after=1),
    Simulated("backup_db", "backup", backup, {"host": "db2"}, every=90, duration=6,
              history_every=86400, fail_rate=1.0, start_after=2,
              failure="rsync: write failed on /backup/db2: No space left on device (28)"),
    Simulated("report_weekly", "report generation", pages, every=75, duration=10,
              history_every=86400, start_after=8),
    Simulated("compute_pi", "computation, iterations", iterations, every=0, duration=1800,
              history_every=2 * 3600, history_duration=30),
    Simulated("sync_invoices", "missed its schedule", percent, history_every=900,
              history_duration=20, history_until=2 * 3600, live=False),
    Simulated("cleanup_tmp", "killed, lost", records, history_every=6 * 3600,
              history_duration=40, live=False),
    Simulated("import_customers", "stuck", records, history_every=86400,
              history_duration=600, live=False),
)  # fmt: skip


# -- history --------------------------------------------------------------------------------


def history_events(spec: Simulated, now: float, rng: random.Random) -> list[dict[str, Any]]:
    """Finished runs of the past week, one event each, with past timestamps."""
    typical = spec.history_duration or spec.duration
    start = now - HISTORY_DAYS * 86400
    end = now - spec.history_until
    events = []
    moment = start + rng.uniform(0, spec.history_every)
    while moment < end - typical * 2:
        age = (now - moment) / (HISTORY_DAYS * 86400)
        # Jobs slow down as data grows: durations creep up over the week.
        seconds = typical * rng.uniform(0.8, 1.25) * (1.3 - 0.3 * age)
        failed = rng.random() < min(spec.fail_rate, 0.3)
        event: dict[str, Any] = {
            "job": spec.name,
            "labels": dict(spec.labels),
            "event": "fail" if failed else "success",
            "run_id": uuid.uuid4().hex,
            "timestamp": round(moment + seconds, 3),
            "duration_seconds": round(seconds, 3),
        }
        if spec.work is records:
            total = rng.randrange(15_000, 25_000)
            done = total if not failed else total * rng.randrange(40, 95) // 100
            event["progress"] = {"done": done, "total": total, "errors": rng.randrange(0, 5)}
        if failed:
            event["message"] = spec.failure or "failed"
            event["exit_code"] = 1
        events.append(event)
        moment += spec.history_every * rng.uniform(0.97, 1.03)
    return events


def stuck_beginning(now: float, run_id: str) -> list[dict[str, Any]]:
    """A run that started 20 minutes ago, has not progressed for 16, and is still alive."""
    base = {"job": "import_customers", "run_id": run_id}
    return [
        {**base, "event": "start", "timestamp": now - 1200},
        {**base, "event": "progress", "timestamp": now - 1080,
         "progress": {"done": 1200, "total": 10_000}},
        {**base, "event": "progress", "timestamp": now - 960,
         "progress": {"done": 3120, "total": 10_000, "errors": 3},
         "message": "waiting for a lock on table customers"},
        # Alive all along (heartbeats), so it reads stuck, never lost.
        {**base, "event": "progress", "timestamp": now,
         "resources": {"cpu_percent": 0.5, "memory_bytes": 180_000_000}},
    ]  # fmt: skip
