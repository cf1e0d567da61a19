"""The batches pushes make most often (a running run's progress with its timeline points,
event ids, Pushgateway groups stored and deleted, a group's history) are written whole, once,
even when their commit is cut off and retried: PostgreSQL writes them in one statement
(`writes.OneStatement`), and the contract's "postgres, statements" store the usual way."""

from __future__ import annotations

import pytest

from batchgate.collector.core.records import GroupEventRecord, SeenRecord, WriteBatch
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.cut_off import commit_cut_off, retried
from tests.collector.storage.contract.records import NOW, job, point, run


def _progress(number: int) -> WriteBatch:
    """Progress of run r with a point, an event id, group g-N stored, g-(N-1) deleted, and a
    group event: what a few pushes of single events and Pushgateway pushes stage."""
    return WriteBatch(
        run_progress=[
            run("r", 1, "running", started_at=NOW, done=float(number), message=f"step\x00{number}")
        ],
        points=[point("r", number, NOW + number, done=float(number))],
        seen=[SeenRecord(f"event-{number}", "r", NOW + number)],
        groups=[
            (f'{{"job":"g-{number}"}}', f"snapshot {number}"),
            (f'{{"job":"g-{number - 1}"}}', None),
        ],
        group_events=[
            GroupEventRecord(NOW + number, "deleted", f'{{"job":"g-{number - 1}"}}', NOW, 3)
        ],
        alive_at=NOW + number,
    )


@pytest.mark.parametrize("cut_after", [0.0, 0.0005, 0.001, 0.002, 0.004])
async def test_progress_points_event_ids_and_groups_apply_once(
    make_store: MakeStore, cut_after: float
) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run("r", 1, "running", started_at=NOW)]))
    await store.commit(_progress(1))
    batch = _progress(2)
    await commit_cut_off(store, batch, cut_after)
    await retried(store, _progress(3))

    (stored,) = await store.get_runs(["r"])
    assert (stored.status, stored.readings.done, stored.message) == ("running", 3.0, "step\x003")
    assert [(p.seq, p.done) for p in await store.timeline("r")] == [(1, 1.0), (2, 2.0), (3, 3.0)]
    seen = await store.seen_event_ids(["event-1", "event-2", "event-3", "event-4"])
    assert sorted(s.event_id for s in seen) == ["event-1", "event-2", "event-3"]
    history = await store.group_history(10)
    assert sorted(e.labels for e in history) == ['{"job":"g-0"}', '{"job":"g-1"}', '{"job":"g-2"}']
    await store.close()

    again = make_store()
    restored = await again.open(NOW + 10, 32, 3600)
    assert restored.groups == ["snapshot 3"]
    assert restored.alive_at == NOW + 3


async def test_a_batch_of_a_finished_run_still_commits_with_its_points(
    make_store: MakeStore,
) -> None:
    """A batch with anything else (here a run that finished) goes the usual way, whole."""
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run("r", 1, "running", started_at=NOW)]))
    await store.commit(_progress(1))
    finished = WriteBatch(
        runs=[run("r", 1, "succeeded", started_at=NOW, duration=5.0)],
        points=[point("r", 2, NOW + 5, event="success")],
        seen=[SeenRecord("event-2", "r", NOW + 5)],
        alive_at=NOW + 5,
    )
    await store.commit(finished)
    (stored,) = await store.get_runs(["r"])
    assert (stored.status, stored.duration) == ("succeeded", 5.0)
    assert [p.event for p in await store.timeline("r")] == ["progress", "success"]
