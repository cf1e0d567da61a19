"""Runs that wait in a queue and are retried (schema 12): a reopened store gives back the
runs still waiting, each with its queue and attempts, and each job's retries and wait
histogram; a waiting run is in flight, not one of the job's finished runs."""

from __future__ import annotations

import json
from typing import Any

from batchgate.collector.core.model import WAIT_BUCKETS, Attempt, Worker
from batchgate.collector.core.records import RunRecord, WriteBatch
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, run


def waiting(run_id: str, status: str, queued_at: float, attempts: list[Attempt]) -> RunRecord:
    return run(
        run_id, 1, status, started_at=queued_at, duration=None, finished_at=None,
        last_event_at=NOW - 10, queue="emails", queued_at=queued_at,
        attempt=attempts[-1].number if attempts else None, max_attempts=5,
        attempts=json.dumps(attempts) if attempts else None,
    )  # fmt: skip


async def test_a_reopened_store_restores_waiting_runs_attempts_and_wait_counts(
    make_store: MakeStore,
) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    buckets = [0] * len(WAIT_BUCKETS)
    buckets[2] = 2
    retried = [Attempt(1, NOW - 50, NOW - 40, "retry", "timeout")]
    done = [
        Attempt(1, NOW - 300, NOW - 290, "retry", "timeout"),
        Attempt(2, NOW - 280, NOW - 270, "succeeded"),
    ]
    await store.commit(
        WriteBatch(
            jobs=[job(1, "app.tasks.send_email", last_run_id="t-queued", retries=2,
                      wait_buckets=json.dumps(buckets), wait_sum=1.5, wait_count=2)],
            runs=[
                waiting("t-queued", "queued", NOW - 20, []),
                waiting("t-retrying", "retrying", NOW - 60, retried),
                run("t-done", 1, "succeeded", started_at=NOW - 301, duration=30.0,
                    queue="emails", queued_at=NOW - 301, attempt=2, attempts=json.dumps(done)),
            ],
        )
    )  # fmt: skip
    await store.close()

    (restored,) = (await make_store().open(NOW + 60, 32, 3600)).jobs
    assert (restored.retries, restored.wait_sum, restored.wait_count) == (2, 1.5, 2)
    assert restored.wait_buckets == buckets
    assert sorted(restored.waiting) == ["t-queued", "t-retrying"]
    assert restored.running == {}
    queued, retrying = restored.waiting["t-queued"], restored.waiting["t-retrying"]
    assert (queued.status, queued.queue, queued.queued_at, queued.attempts) == (
        "queued",
        "emails",
        NOW - 20,
        [],
    )
    assert (retrying.status, retrying.attempt, retrying.max_attempts) == ("retrying", 1, 5)
    assert retrying.attempts == retried
    assert restored.last_run is queued
    # Only the finished run is one of the job's recent runs.
    assert [summary.run_id for summary in restored.recent] == ["t-done"]
    assert restored.last_finished is not None
    assert restored.last_finished.attempts == done
    assert restored.last_finished.wait_seconds == 1.0
    # Its run time is from its first attempt on, without the wait.
    assert restored.last_finished.duration == 29.0


async def test_a_job_whose_runs_never_queued_restores_with_no_waits(
    make_store: MakeStore,
) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1, "cron")], runs=[run("c-1", 1)]))
    await store.close()

    (restored,) = (await make_store().open(NOW + 60, 32, 3600)).jobs
    assert (restored.retries, restored.wait_count, restored.waiting) == (0, 0, {})
    assert restored.wait_buckets == [0] * len(WAIT_BUCKETS)
    assert restored.last_finished is not None
    assert (restored.last_finished.queue, restored.last_finished.attempts) == (None, [])


async def test_a_runs_worker_and_each_attempts_come_back(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    attempts = [
        Attempt(1, NOW - 50, NOW - 40, "retry", "timeout", Worker("celery@web-1", 4242)),
        Attempt(2, NOW - 30, worker=Worker("celery@web-2", None)),
    ]
    older = [[1, NOW - 50, NOW - 40, "retry", "timeout"], [2, NOW - 30, None, None, None]]
    await store.commit(
        WriteBatch(
            jobs=[job(1, "app.tasks.send_email", last_run_id="w")],
            runs=[
                run("w", 1, "running", started_at=NOW - 60, queue="emails",
                    queued_at=NOW - 60, attempt=2, attempts=json.dumps(attempts),
                    worker_hostname="celery@web-2", worker_pid=None),
                # Attempts stored before workers were (schema 14) read as having none.
                run("old", 1, "running", started_at=NOW - 60, queue="emails",
                    queued_at=NOW - 60, attempt=2, attempts=json.dumps(older)),
            ],
        )
    )  # fmt: skip
    await store.close()

    (restored,) = (await make_store().open(NOW + 60, 32, 3600)).jobs
    found = restored.running["w"]
    assert (found.worker, found.attempts) == (Worker("celery@web-2", None), attempts)
    old = restored.running["old"]
    assert (old.worker, [a.worker for a in old.attempts]) == (None, [None, None])


async def test_a_queues_stats_count_its_runs_retries_waits_and_run_times(
    make_store: MakeStore,
) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)

    def finished(
        run_id: str, queued_at: float, wait: float, took: float, **fields: Any
    ) -> RunRecord:
        began = queued_at + wait
        return run(run_id, 1, started_at=queued_at, duration=took, finished_at=began + took,
                   queue="emails", queued_at=queued_at, **fields)  # fmt: skip

    await store.commit(
        WriteBatch(
            jobs=[job(1, "send")],
            runs=[
                finished("a", NOW - 300, 2.0, 10.0),
                finished("b", NOW - 200, 4.0, 20.0, status="failed", attempt=3),
                finished("c", NOW - 100, 6.0, 30.0, attempt=2),
                waiting("d", "queued", NOW - 50, []),
                finished("old", NOW - 90_000, 100.0, 100.0),
                run("other", 1, started_at=NOW - 100, queue="reports"),
            ],
        )
    )  # fmt: skip

    stats = await store.queue_stats("emails", NOW - 3600)
    assert stats.counts == {"succeeded": 2, "failed": 1, "queued": 1}
    assert stats.retries == 3
    assert (stats.wait_p50, stats.wait_p95) == (4.0, 5.8)
    assert (stats.run_p50, stats.run_p95) == (20.0, 29.0)
    empty = await store.queue_stats("nope", NOW - 3600)
    assert (empty.counts, empty.retries, empty.wait_p50, empty.run_p95) == ({}, 0, None, None)


async def test_a_reopened_store_gives_the_queues_last_day_back(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    retried = [Attempt(1, NOW - 7220, NOW - 7210, "retry", "busy"), Attempt(2, NOW - 7200)]

    def ended(
        run_id: str, status: str, finished_at: float, timed: bool = True, **fields: Any
    ) -> RunRecord:
        return run(run_id, 1, status, started_at=finished_at - 30,
                   duration=20.0 if timed else None, finished_at=finished_at, queue="emails",
                   queued_at=finished_at - 30 if timed else None, **fields)  # fmt: skip

    await store.commit(
        WriteBatch(
            jobs=[job(1, "send")],
            runs=[
                ended("a", "succeeded", NOW - 600),
                ended("b", "failed", NOW - 590),
                ended("c", "succeeded", NOW - 7000, attempt=2, attempts=json.dumps(retried)),
                ended("d", "cancelled", NOW - 7000, timed=False),
                ended("old", "succeeded", NOW - 90_000),
                waiting("w", "queued", NOW - 10, []),
                run("cron", 1, finished_at=NOW - 60, started_at=NOW - 120),
            ],
        )
    )  # fmt: skip
    await store.close()

    history = (await make_store().open(NOW, 32, 3600)).queues
    assert sorted(history.counts) == sorted([
        ("emails", int((NOW - 7000) // 60), "cancelled", 1, NOW - 7000),
        ("emails", int((NOW - 7000) // 60), "succeeded", 1, NOW - 7000),
        ("emails", int((NOW - 600) // 60), "succeeded", 1, NOW - 600),
        ("emails", int((NOW - 590) // 60), "failed", 1, NOW - 590),
    ])  # fmt: skip
    ((queue, attempts),) = history.retries
    assert (queue, [Attempt(*a) for a in json.loads(attempts)]) == ("emails", retried)
    # The last hour's waits (10 s each) and run times, oldest first.
    assert history.timings == [("emails", NOW - 600, 10.0, 20.0), ("emails", NOW - 590, 10.0, 20.0)]
