"""Records for the contract tests, with what a test does not care about filled in."""

from __future__ import annotations

import json
from typing import Any

from batchgate.collector.core.model import DURATION_BUCKETS
from batchgate.collector.core.records import JobRecord, PointRecord, RunRecord

NOW = 1_700_000_000.0


def job(
    job_id: int, name: str = "", labels: dict[str, str] | None = None, **fields: Any
) -> JobRecord:
    values: dict[str, Any] = {
        "id": job_id,
        "name": name or f"job_{job_id}",
        "labels": json.dumps(labels or {}, sort_keys=True, separators=(",", ":")),
        "kind": "job",
        "created_at": NOW - 86400,
        "last_seen_at": NOW,
        "last_start_at": None,
        "last_success_at": None,
        "last_failure_at": None,
        "last_finished_at": None,
        "last_duration": None,
        "last_run_id": None,
        "counts": json.dumps({}),
        "duration_buckets": json.dumps([0] * len(DURATION_BUCKETS)),
        "duration_sum": 0.0,
        "duration_count": 0,
    }
    values.update(fields)
    return JobRecord(**values)


def run(
    run_id: str,
    job_id: int,
    status: str = "succeeded",
    started_at: float = NOW - 3600,
    duration: float | None = 60.0,
    **fields: Any,
) -> RunRecord:
    finished = None if status == "running" else started_at + (duration or 0.0)
    values: dict[str, Any] = {
        "run_id": run_id,
        "job_id": job_id,
        "status": status,
        "started_at": started_at,
        "finished_at": finished,
        "duration": None if status == "running" else duration,
        "last_event_at": finished or started_at,
        "last_progress_at": started_at,
        "percent": None,
        "done": None,
        "total": None,
        "errors": None,
        "cpu_percent": None,
        "memory_bytes": None,
        "io_read_bytes": None,
        "io_write_bytes": None,
        "metrics": None,
        "message": None,
        "exit_code": None,
        "lost_after": None,
        "samples": 0,
        "sample_level": 0,
        "last_sample_at": None,
    }
    values.update(fields)
    return RunRecord(**values)


def point(
    run_id: str, seq: int | None, at: float, event: str = "progress", **fields: Any
) -> PointRecord:
    values: dict[str, Any] = dict.fromkeys(PointRecord._fields)
    values.update(run_id=run_id, seq=seq, at=at, event=event)
    values.update(fields)
    return PointRecord(**values)
