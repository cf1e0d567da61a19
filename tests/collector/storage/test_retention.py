"""Retention removes runs by age and beyond the newest N per job, and nothing else."""

from __future__ import annotations

from typing import Any

from batchgate.collector.http.keys import INGEST
from batchgate.collector.settings import Retention
from tests.helpers import Clock, get, push


async def test_it_removes_old_runs_and_runs_beyond_the_limit(start: Any, clock: Clock) -> None:
    retention = Retention(max_age=30 * 86400, max_runs_per_job=3)
    client = await start(retention=retention)
    await push(client, {"job": "ancient", "event": "success", "run_id": "old-1"})
    clock.advance(60)
    await push(client, {"job": "ancient", "event": "success", "run_id": "old-2"})
    clock.advance(40 * 86400)
    for i in range(5):
        clock.advance(60)
        await push(client, {"job": "busy", "event": "success", "run_id": f"busy-{i}"})
    await push(client, {"job": "busy", "event": "start", "run_id": "busy-running"})

    assert await client.app[INGEST].apply_retention() == 1 + 3
    assert (await client.get("/runs/old-1")).status == 404
    assert (await get(client, "/runs/old-2"))["status"] == "succeeded", "a job's last run stays"
    runs = (await get(client, "/jobs/busy/runs"))["runs"]
    assert [r["run_id"] for r in runs] == ["busy-running", "busy-4", "busy-3"]
    (ancient,) = (await get(client, "/jobs/ancient"))["label_sets"]
    assert ancient["runs"] == {"succeeded": 2}, "the job and its counters stay"
