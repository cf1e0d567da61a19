"""A group commit is atomic, and a batch retried after its commit was cut off at any point
is applied once: the writer retries the same batch when the outcome of a commit is unknown."""

from __future__ import annotations

import pytest

from batchgate.collector.core.records import AuditRecord, WriteBatch
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.cut_off import commit_cut_off, retried
from tests.collector.storage.contract.records import NOW, job, point, run


def _batch(number: int) -> WriteBatch:
    """A batch whose rows would show if applied twice: an audit entry and a timeline point
    (both appended, never replaced)."""
    return WriteBatch(
        jobs=[job(1)],
        runs=[run("r", 1, "running", started_at=NOW)],
        points=[point("r", number, NOW + number)],
        audit=[AuditRecord(NOW + number, "admin", "delete", f"target-{number}", None)],
        alive_at=NOW + number,
    )


@pytest.mark.parametrize("cut_after", [0.0, 0.0005, 0.001, 0.002, 0.004, 0.008])
async def test_a_commit_cut_off_and_retried_is_applied_once(
    make_store: MakeStore, cut_after: float
) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(_batch(1))
    batch = _batch(2)
    await commit_cut_off(store, batch, cut_after)
    await retried(store, _batch(3))
    audit = await store.audit(10, None)
    assert [entry.target for entry in audit] == ["target-3", "target-2", "target-1"]
    assert [p.seq for p in await store.timeline("r")] == [1, 2, 3]


async def test_a_new_server_starts_its_batches_over(make_store: MakeStore) -> None:
    """Batch numbers belong to one server's session: a restarted server's batch 1 is new."""
    store = make_store()
    await store.open(NOW, 32, 3600)
    for number in (1, 2, 3):
        await store.commit(_batch(number))
    await store.close()
    again = make_store()
    await again.open(NOW, 32, 3600)
    await again.commit(_batch(4))
    assert len(await again.audit(10, None)) == 4


async def test_a_batch_that_fails_changes_nothing(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run("kept", 1)]))
    # The same job key under two ids: the store's unique key refuses the whole batch.
    broken = WriteBatch(
        runs=[run("not-kept", 1)],
        audit=[AuditRecord(NOW, "admin", "delete", "x", None)],
        jobs=[job(2, "twin"), job(3, "twin")],
    )
    with pytest.raises(Exception):  # noqa: B017 (each store raises its driver's error)
        await store.commit(broken)
    assert [r.run_id for r in await store.get_runs(["kept", "not-kept"])] == ["kept"]
    assert await store.audit(10, None) == []
