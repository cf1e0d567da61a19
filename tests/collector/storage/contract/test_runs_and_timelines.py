"""Runs, their timelines and jobs: committed in batches, read back the same on both stores."""

from __future__ import annotations

import json

from batchgate.collector.core.records import Thinning, WriteBatch
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, point, run


async def test_it_reads_back_the_runs_it_committed(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(
        WriteBatch(
            jobs=[job(1, "etl", {"env": "prod", "region": "eu"}), job(2, "backup")],
            runs=[
                run("etl-1", 1, "running", percent=40.0, done=400.0, total=1000.0,
                    cpu_percent=87.5, memory_bytes=2.5e9, metrics=json.dumps({"rows": 7}),
                    message="loading", lost_after=900.0, samples=3, sample_level=1,
                    last_sample_at=NOW - 10),
                run("b-1", 2, "failed", duration=12.5, exit_code=2**32 - 1, message="disk full"),
            ],
        )
    )  # fmt: skip
    backup, etl = sorted(await store.get_runs(["etl-1", "b-1", "nobody"]), key=lambda r: r.run_id)
    assert (backup.run_id, etl.run_id) == ("b-1", "etl-1")
    assert etl.job.name == "etl"
    assert dict(etl.job.labels) == {"env": "prod", "region": "eu"}
    readings = etl.readings
    assert (etl.status, readings.percent, readings.done, readings.total) == (
        "running",
        40.0,
        400.0,
        1000.0,
    )
    assert (readings.cpu_percent, readings.memory_bytes) == (87.5, 2.5e9)
    assert etl.metrics == {"rows": 7}
    assert (etl.message, etl.lost_after, etl.samples, etl.sample_level) == ("loading", 900.0, 3, 1)
    assert etl.last_sample_at == NOW - 10
    assert etl.finished_at is None
    assert backup.job.name == "backup"
    assert (backup.status, backup.exit_code, backup.message) == ("failed", 2**32 - 1, "disk full")
    assert backup.finished_at == backup.started_at + 12.5
    assert await store.get_runs([]) == []


async def test_progress_only_updates_keep_the_runs_status_and_start(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run("r", 1, "running", started_at=NOW)]))
    moved = run("r", 1, "running", started_at=NOW, percent=75.0, done=3.0, last_event_at=NOW + 5)
    await store.commit(WriteBatch(run_progress=[moved]))
    (stored,) = await store.get_runs(["r"])
    assert (stored.status, stored.started_at) == ("running", NOW)
    assert (stored.readings.percent, stored.readings.done, stored.last_event_at) == (
        75.0,
        3.0,
        NOW + 5,
    )


async def test_a_timeline_comes_back_in_order_and_thinned(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    points = [point("r", None, NOW, "start")]
    points += [point("r", seq, NOW + seq, percent=float(seq * 10)) for seq in range(1, 9)]
    # Two points at the same time stay in the order they were committed.
    points += [point("r", None, NOW + 8, "success", message="done", exit_code=0)]
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run("r", 1, started_at=NOW)], points=points))
    timeline = await store.timeline("r")
    assert timeline == points
    await store.commit(WriteBatch(thinnings=[Thinning("r", 2)]))
    kept = await store.timeline("r")
    assert [(p.seq, p.event) for p in kept] == [
        (None, "start"), (2, "progress"), (4, "progress"), (6, "progress"), (8, "progress"),
        (None, "success"),
    ]  # fmt: skip
    assert await store.timeline("nobody") == []


async def test_it_lists_a_jobs_runs_newest_first_with_filters_and_a_cursor(
    make_store: MakeStore,
) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    runs = [
        run(f"r{n:02}", 1, "failed" if n % 3 == 0 else "succeeded", started_at=NOW - 100 * n)
        for n in range(1, 13)
    ]
    # Two runs that started at the same second: the run id breaks the tie.
    runs += [run("same-a", 1, started_at=NOW - 50), run("same-b", 1, started_at=NOW - 50)]
    runs += [run("other", 2, started_at=NOW - 10)]
    await store.commit(WriteBatch(jobs=[job(1), job(2)], runs=runs))

    newest = await store.list_runs([1], None, None, None, None, 4)
    assert [r.run_id for r in newest] == ["same-b", "same-a", "r01", "r02"]
    after = await store.list_runs([1], None, None, None, (NOW - 50, "same-b"), 2)
    assert [r.run_id for r in after] == ["same-a", "r01"]
    failed = await store.list_runs([1], ["failed"], None, None, None, 10)
    assert [r.run_id for r in failed] == ["r03", "r06", "r09", "r12"]
    window = await store.list_runs([1, 2], None, NOW - 400, NOW - 100, None, 10)
    assert [r.run_id for r in window] == ["r02", "r03", "r04"]
    both = await store.list_runs([1, 2], None, NOW - 60, None, None, 10)
    assert [r.run_id for r in both] == ["other", "same-b", "same-a"]
    assert await store.list_runs([], None, None, None, None, 10) == []


async def test_deleting_a_job_deletes_its_runs_and_timelines(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(
        WriteBatch(
            jobs=[job(1), job(2)],
            runs=[run("gone", 1), run("kept", 2)],
            points=[point("gone", 1, NOW), point("kept", 1, NOW)],
        )
    )
    await store.commit(WriteBatch(deleted_jobs=[1]))
    assert [r.run_id for r in await store.get_runs(["gone", "kept"])] == ["kept"]
    assert await store.timeline("gone") == []
    assert len(await store.timeline("kept")) == 1
    await store.close()
    restored = await make_store().open(NOW, 32, 3600)
    assert [j.id for j in restored.jobs] == [2]
