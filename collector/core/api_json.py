"""How jobs, runs and their statistics look in the JSON API.

Times are RFC 3339 in UTC with milliseconds, durations are seconds. These functions
are pure: `now` is passed in wherever a status is derived.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import time
from datetime import datetime
from typing import Any

from batchgate.collector.core.model import LATE, QUEUED, Attempt, Job, Run, RunSummary, Worker
from batchgate.collector.core.queues import QueueFigures
from batchgate.collector.core.records import PointRecord, RunStats
from batchgate.collector.core.state import StateSettings
from batchgate.collector.pushgateway import GroupSummary
from batchgate.rules.facts import Readings


def finite_number(value: object) -> float | None:
    """`value` if it is a number JSON can carry (not NaN or infinite), else None."""
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def rfc3339(timestamp: float | None) -> str | None:
    """`2024-05-01T02:00:00.123Z`, or None for None."""
    if timestamp is None:
        return None
    seconds = math.floor(timestamp)
    # min(): a hair before a whole second, (timestamp - seconds) rounds to 1.0.
    millis = min(int((timestamp - seconds) * 1000), 999)
    minute, second = divmod(seconds, 60)
    return f"{_minute_prefix(minute)}{second:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _minute_prefix(minute: int) -> str:
    """`2024-05-01T02:00:` for a minute since the epoch: the times an answer shows mostly
    fall in a few minutes, so each minute is formatted once (4,096 minutes: a jobs page
    of a thousand jobs shows times from hours or days)."""
    moment = time.gmtime(minute * 60)
    # Not strftime("%Y"): it does not pad years before 1000 to four digits everywhere.
    return (
        f"{moment.tm_year:04d}-{moment.tm_mon:02d}-{moment.tm_mday:02d}T"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:"
    )


def parse_time(text: str) -> float:
    """Unix seconds from unix seconds or an RFC 3339 string; ValueError otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("an RFC 3339 time needs a time zone, such as Z")
    return parsed.timestamp()


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The parts of a cursor made by `encode_cursor`; ValueError if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor returned by this API") from None
    if not isinstance(parts, list):
        raise ValueError("not a cursor returned by this API")
    return parts


def _section(readings: Readings | PointRecord, names: tuple[str, ...]) -> dict[str, Any] | None:
    """`progress` or `resources` as a push has them, or None when none was reported. A
    timeline point has its readings as the run has them, a column each."""
    section = {name: getattr(readings, name) for name in names}
    return section if any(value is not None for value in section.values()) else None


def run_json(run: Run, now: float, settings: StateSettings) -> dict[str, Any]:
    """A run as the API shows it; a running run's duration so far is `elapsed_seconds`."""
    status = run.effective_status(now, settings.lost_after)
    running = run.status == "running"
    began = run.began_at
    ratio = run.progress_ratio()
    eta = None
    if running and began is not None and ratio is not None and 0 < ratio < 1:
        elapsed = now - began
        eta = rfc3339(now + elapsed * (1 - ratio) / ratio)
    return {
        "run_id": run.run_id,
        "job": run.job.name,
        "labels": dict(run.job.labels),
        "status": status,
        "stuck": running and run.is_stuck(now, settings.stuck_after),
        "started_at": rfc3339(began),
        "finished_at": rfc3339(run.finished_at),
        "last_event_at": rfc3339(run.last_event_at),
        "last_progress_at": rfc3339(run.last_progress_at),
        "duration_seconds": run.duration,
        "elapsed_seconds": (
            max(0.0, now - began) if running and began is not None else run.duration
        ),
        "progress": _section(run.readings, Readings.PROGRESS),
        "progress_ratio": ratio,
        "eta": eta,
        "resources": _section(run.readings, Readings.RESOURCES),
        "metrics": run.metrics,
        "message": run.message,
        "exit_code": run.exit_code,
        "queue": run.queue,
        "queued_at": rfc3339(run.queued_at),
        "wait_seconds": _waited(run, now),
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "attempts": [attempt_json(attempt) for attempt in run.attempts],
        "worker": worker_json(run.worker),
    }


def _waited(run: Run, now: float) -> float | None:
    """The run's wait before its first attempt; for a run still queued, its wait so far."""
    if run.status == QUEUED and run.queued_at is not None:
        return max(0.0, now - run.queued_at)
    return run.wait_seconds


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "started_at": rfc3339(attempt.started_at),
        "ended_at": rfc3339(attempt.ended_at),
        "outcome": attempt.outcome,
        "duration_seconds": (
            max(0.0, attempt.ended_at - attempt.started_at)
            if attempt.ended_at is not None
            else None
        ),
        "message": attempt.message,
        "worker": worker_json(attempt.worker),
    }


def worker_json(worker: Worker | None) -> dict[str, Any] | None:
    return None if worker is None else {"hostname": worker.hostname, "pid": worker.pid}


def point_json(point: PointRecord) -> dict[str, Any]:
    return {
        "at": rfc3339(point.at),
        "event": point.event,
        "progress": _section(point, Readings.PROGRESS),
        "resources": _section(point, Readings.RESOURCES),
        "metrics": json.loads(point.metrics) if point.metrics else None,
        "message": point.message,
        "exit_code": point.exit_code,
    }


def summary_json(summary: RunSummary) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "status": summary.status,
        "started_at": rfc3339(summary.started_at),
        "finished_at": rfc3339(summary.finished_at),
        "duration_seconds": summary.duration,
        "done": summary.done,
    }


def job_json(
    job: Job, now: float, settings: StateSettings, group: GroupSummary | None = None
) -> dict[str, Any]:
    """A job as `GET /jobs` lists it; a Pushgateway group's job also shows its group."""
    last = job.last_run
    status = job.status(now, settings.stuck_after, settings.lost_after)
    shown = {
        "job": job.name,
        "labels": dict(job.labels),
        "kind": job.kind,
        "status": status,
        "late_since": rfc3339(job.late_since) if status == LATE else None,
        "running_runs": len(job.running),
        "waiting_runs": len(job.waiting),
        "retries": job.retries,
        "last_run": run_json(last, now, settings) if last is not None else None,
        "last_seen_at": rfc3339(job.last_seen_at),
        "last_start_at": rfc3339(job.last_start_at),
        "last_success_at": rfc3339(job.last_success_at),
        "last_failure_at": rfc3339(job.last_failure_at),
        "last_duration_seconds": job.last_duration,
        "runs": dict(job.counts),
    }
    if group is not None:
        shown["pushgateway"] = {
            "grouping_key": dict(group.key),
            "series": group.series,
            "last_push_at": rfc3339(group.push_time or None),
            "last_failed_push_at": rfc3339(group.failure_time or None),
            "last_push_successful": group.push_time >= group.failure_time,
        }
    return shown


def job_detail_json(
    job: Job, now: float, settings: StateSettings, group: GroupSummary | None = None
) -> dict[str, Any]:
    """A job with its running runs, recent runs and duration statistics (`GET /jobs/{job}`)."""
    detail = job_json(job, now, settings, group)
    detail["running"] = [run_json(run, now, settings) for run in job.running.values()]
    waiting = sorted(job.waiting.values(), key=lambda run: (run.started_at, run.run_id))
    detail["waiting"] = [run_json(run, now, settings) for run in waiting]  # in queue order
    detail["recent_runs"] = [summary_json(summary) for summary in reversed(job.recent)]
    durations = sorted(s.duration for s in job.recent if s.duration is not None)
    detail["stats"] = {
        "runs": dict(job.counts),
        "duration_seconds": {
            "count": job.duration_count,
            "avg": job.duration_sum / job.duration_count if job.duration_count else None,
            "recent_p50": quantile(durations, 0.5),
            "recent_max": durations[-1] if durations else None,
        },
        "wait_seconds": {
            "count": job.wait_count,
            "avg": job.wait_sum / job.wait_count if job.wait_count else None,
        },
        "retries": job.retries,
    }
    declared = job.declaration  # the job's own schedule (issue 21), or null
    detail["schedule"] = (
        None
        if declared is None
        else {**declared.as_json(), "declared_at": rfc3339(declared.declared_at)}
    )
    return detail


def quantile(ordered: list[float], q: float) -> float | None:
    """The q-quantile of sorted values, interpolated between neighbours."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def trends_json(stats: RunStats, running: int) -> dict[str, Any]:
    """Runs, success rate, durations and throughput of a period (`/jobs/{job}/trends`)."""
    counts = stats.counts
    succeeded = counts.get("succeeded", 0)
    failed = counts.get("failed", 0) + counts.get("lost", 0)
    return {
        "runs": sum(counts.values()),
        "running": running,
        "succeeded": succeeded,
        "failed": counts.get("failed", 0),
        "cancelled": counts.get("cancelled", 0),
        "lost": counts.get("lost", 0),
        "success_rate": succeeded / (succeeded + failed) if succeeded + failed else None,
        "duration_seconds": {
            "avg": stats.duration_avg,
            "p50": stats.duration_p50,
            "p95": stats.duration_p95,
            "max": stats.duration_max,
        },
        "records_per_second": (
            stats.records_done / stats.records_seconds if stats.records_seconds > 0 else None
        ),
    }


def queue_json(queue: QueueFigures) -> dict[str, Any]:
    """A queue as `GET /queues` lists it."""
    return {
        "queue": queue.name,
        "waiting": queue.waiting,
        "waiting_runs": queue.waiting_runs,
        "active": queue.active,
        "delayed": queue.delayed,
        "paused": queue.paused,
        "broker_reported_at": rfc3339(queue.broker_reported_at),
        "oldest_waiting_seconds": queue.oldest_waiting_seconds,
        "last_hour": queue.last_hour,
        "last_day": queue.last_day,
        "throughput_per_minute": queue.throughput_per_minute,
        "wait_seconds": {"p50": queue.wait_p50, "p95": queue.wait_p95},
        "run_seconds": {"p50": queue.run_p50, "p95": queue.run_p95},
    }
