"""Trends: counts by status, and the average, percentiles and longest of succeeded runs,
computed by the store (in SQL) and checked against the runs the test made."""

from __future__ import annotations

import random
import statistics

import pytest

from batchgate.collector.core.records import WriteBatch
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, run


async def test_trends_of_a_job_by_hand(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    since = NOW - 86400
    runs = [
        run("s1", 1, started_at=since + 10, duration=10.0, done=100.0),
        run("s2", 1, started_at=since + 20, duration=20.0, done=400.0),
        run("s3", 1, started_at=since + 30, duration=30.0),
        run("s4", 1, started_at=since + 40, duration=40.0),
        run("s5", 1, started_at=since + 50, duration=100.0),
        run("f1", 1, "failed", started_at=since + 60, duration=5.0),
        run("r1", 1, "running", started_at=since + 70),
        run("untimed", 1, started_at=since + 80, duration=None),
        # Before the period, and another job's: left out.
        run("old", 1, started_at=since - 1, duration=1000.0),
        run("other", 2, started_at=since + 10, duration=7.0),
    ]
    await store.commit(WriteBatch(jobs=[job(1), job(2)], runs=runs))

    stats = await store.run_stats([1], since)
    assert stats.counts == {"succeeded": 6, "failed": 1, "running": 1}
    # Durations of succeeded runs with one: 10, 20, 30, 40, 100.
    assert stats.duration_avg == pytest.approx(40.0)  # 200 / 5
    assert stats.duration_p50 == pytest.approx(30.0)  # position 0.5 * 4 = 2: the third
    assert stats.duration_p95 == pytest.approx(88.0)  # position 3.8: 40 + 0.8 * (100 - 40)
    assert stats.duration_max == 100.0
    # Only the runs that reported `done`: 100 + 400 records in 10 + 20 seconds.
    assert (stats.records_done, stats.records_seconds) == (500.0, 30.0)

    everything = await store.run_stats(None, since)
    assert everything.counts == {"succeeded": 7, "failed": 1, "running": 1}
    assert everything.duration_p50 == pytest.approx(25.0)  # 7, 10, 20, [30], 40, 100: 20 + 0.5 * 10
    assert everything.duration_max == 100.0


async def test_trends_with_no_runs(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run("f", 1, "failed")]))
    stats = await store.run_stats([1], NOW - 86400)
    assert stats.counts == {"failed": 1}
    assert (stats.duration_avg, stats.duration_p50, stats.duration_p95, stats.duration_max) == (
        None, None, None, None,
    )  # fmt: skip
    assert (stats.records_done, stats.records_seconds) == (0.0, 0.0)
    assert (await store.run_stats([], 0.0)).counts == {}
    assert (await store.run_stats([2], 0.0)).counts == {}


@pytest.mark.parametrize("count", [1, 2, 21, 400])
async def test_percentiles_interpolate_between_the_two_nearest_runs(
    make_store: MakeStore, count: int
) -> None:
    """Against the standard library's inclusive quantiles (the same interpolation)."""
    rng = random.Random(count)
    durations = [round(rng.uniform(0.5, 3600.0), 3) for _ in range(count)]
    store = make_store()
    await store.open(NOW, 32, 3600)
    runs = [run(f"r{n}", 1, started_at=NOW - 3600 + n, duration=d) for n, d in enumerate(durations)]
    await store.commit(WriteBatch(jobs=[job(1)], runs=runs))
    stats = await store.run_stats([1], NOW - 7200)
    if count == 1:
        expected_p50 = expected_p95 = durations[0]
    else:
        cuts = statistics.quantiles(durations, n=100, method="inclusive")
        expected_p50, expected_p95 = cuts[49], cuts[94]
    assert stats.duration_p50 == pytest.approx(expected_p50)
    assert stats.duration_p95 == pytest.approx(expected_p95)
    assert stats.duration_avg == pytest.approx(statistics.fmean(durations))
    assert stats.duration_max == max(durations)
