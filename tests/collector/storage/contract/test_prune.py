"""Retention: old runs, runs beyond each job's newest N, old event ids and old history go;
runs not over (running, or waiting in a queue) and each job's last run stay."""

from __future__ import annotations

from batchgate.collector.core.records import (
    AlertEventRecord,
    GroupEventRecord,
    SeenRecord,
    WriteBatch,
)
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, point, run

DAY = 86400.0


async def test_retention_by_age_and_by_runs_per_job(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    runs = [
        run("old", 1, started_at=NOW - 40 * DAY),
        run("old-running", 1, "running", started_at=NOW - 40 * DAY),
        run("old-queued", 1, "queued", started_at=NOW - 40 * DAY),
        run("old-retrying", 1, "retrying", started_at=NOW - 40 * DAY),
        run("old-but-last", 2, started_at=NOW - 40 * DAY),
        *(run(f"busy-{n}", 3, started_at=NOW - n * 60) for n in range(1, 6)),
        run("busy-running", 3, "running", started_at=NOW - 30 * 60),
        run("busy-queued", 3, "queued", started_at=NOW - 40 * 60),
        run("recent", 1, started_at=NOW - DAY),
    ]
    await store.commit(
        WriteBatch(
            jobs=[job(1), job(2, last_run_id="old-but-last"), job(3)],
            runs=runs,
            points=[point("old", 1, NOW - 40 * DAY), point("recent", 1, NOW - DAY)],
            seen=[SeenRecord("old-id", "old", NOW - 8 * DAY), SeenRecord("new-id", "r", NOW)],
            group_events=[
                GroupEventRecord(NOW - 40 * DAY, "expired", '{"job":"a"}', None, 1),
                GroupEventRecord(NOW - DAY, "deleted", '{"job":"b"}', NOW - DAY, 2),
            ],
            alert_events=[
                AlertEventRecord(NOW - 40 * DAY, "firing", "a1", "JobFailed", "etl", "{}",
                                 None, "critical", 1.0, None),
                AlertEventRecord(NOW - DAY, "resolved", "a1", "JobFailed", "etl", "{}",
                                 None, "critical", None, None),
            ],
        )
    )  # fmt: skip

    deleted = await store.prune(NOW - 30 * DAY, 3, NOW - 7 * DAY)

    # busy keeps its newest three (busy-1 to busy-3); of the runs beyond them, busy-4 and
    # busy-5 go, and busy-running and busy-queued, the oldest, stay: they are not over.
    # A run waiting in a queue is never deleted, however old (it has not even started).
    assert sorted(deleted) == ["busy-4", "busy-5", "old"]
    kept = {r.run_id for r in await store.get_runs([r.run_id for r in runs])}
    assert kept == {
        "old-running", "old-queued", "old-retrying", "old-but-last", "busy-1", "busy-2",
        "busy-3", "busy-running", "busy-queued", "recent",
    }  # fmt: skip
    assert await store.timeline("old") == []
    assert len(await store.timeline("recent")) == 1
    assert [s.event_id for s in await store.seen_event_ids(["old-id", "new-id"])] == ["new-id"]
    assert [e.event for e in await store.group_history(10)] == ["deleted"]
    assert [e.event for _, e in await store.alert_history(None, None, None, None, None, 10)] == [
        "resolved"
    ]
    # Nothing left to delete: a second pass deletes nothing.
    assert await store.prune(NOW - 30 * DAY, 3, NOW - 7 * DAY) == []
