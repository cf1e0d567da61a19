"""The counts the overview and /summary read (`run_counts`) are those of a recount of the
runs, after random histories of runs started, ended, deleted and pruned, over any window
(its start inside a five-minute bucket or on its edge), and after the store is reopened."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from batchgate.collector.core.records import RunRecord, WriteBatch
from batchgate.collector.storage.store import Store
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, run

FINAL = ("succeeded", "failed", "cancelled", "lost")


def recount(runs: dict[str, RunRecord], since: float) -> dict[str, int]:
    return dict(Counter(r.status for r in runs.values() if r.started_at >= since))


async def agrees(store: Store, runs: dict[str, RunRecord], rng: random.Random) -> None:
    windows = [NOW - 86400, NOW - 3 * 86400, NOW - 300 * 37, NOW + 1]
    windows += [NOW - rng.uniform(0, 4 * 86400) for _ in range(20)]
    for since in windows:
        assert await store.run_counts(since) == recount(runs, since), since
        # The store's own recount of its rows says the same.
        assert (await store.run_stats(None, since)).counts == recount(runs, since)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_counts_are_a_recount_after_a_random_history(
    make_store: MakeStore, seed: int
) -> None:
    rng = random.Random(seed)
    store = make_store()
    await store.open(NOW, 32, 3600)
    runs: dict[str, RunRecord] = {}
    jobs = [job(i) for i in range(1, 6)]
    await store.commit(WriteBatch(jobs=jobs))
    live_jobs = [1, 2, 3, 4, 5]
    for step in range(12):
        if step == 8:  # a job deleted with its runs
            await store.commit(WriteBatch(deleted_jobs=[5]))
            runs = {key: r for key, r in runs.items() if r.job_id != 5}
            live_jobs.remove(5)
        batch = WriteBatch()
        for n in range(rng.randrange(5, 40)):  # new runs, running or finished
            status = rng.choice(("running", *FINAL))
            started = NOW - rng.uniform(0, 4 * 86400)
            record = run(f"r{step}-{n}", rng.choice(live_jobs), status, started)
            runs[record.run_id] = record
            batch.runs.append(record)
        running = [r for r in runs.values() if r.status == "running"]
        for record in rng.sample(running, k=min(len(running), rng.randrange(0, 10))):
            ended = run(record.run_id, record.job_id, rng.choice(FINAL), record.started_at)
            runs[record.run_id] = ended  # its status changes; its start does not
            batch.runs.append(ended)
        await store.commit(batch)
        await agrees(store, runs, rng)

    # Retention: everything started over three days ago, and beyond 15 runs a job.
    deleted = await store.prune(NOW - 3 * 86400, 15, NOW)
    assert deleted
    for run_id in deleted:
        runs.pop(run_id)
    await agrees(store, runs, rng)

    await store.close()
    reopened = make_store()
    await reopened.open(NOW, 32, 3600)
    await agrees(reopened, runs, rng)
