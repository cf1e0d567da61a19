"""What a store hands back at start, after another store object closed on the same database:
everything the live state needs, as a restarted server would get it."""

from __future__ import annotations

import json

from batchgate.collector.core.model import DURATION_BUCKETS
from batchgate.collector.core.records import (
    AlertRecord,
    OutboxRecord,
    SeenRecord,
    SilenceRecord,
    WriteBatch,
)
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, run


async def test_a_reopened_store_restores_jobs_runs_and_their_latest_runs(
    make_store: MakeStore,
) -> None:
    store = make_store()
    first = await store.open(NOW, 3, 3600)
    assert (first.jobs, first.seen, first.groups) == ([], [], [])
    finished = [run(f"etl-{n}", 1, started_at=NOW - 1000 + 100 * n, duration=10.0 * n,
                    done=float(n)) for n in range(1, 6)]  # fmt: skip
    buckets = [0] * len(DURATION_BUCKETS)
    buckets[3] = 5
    await store.commit(
        WriteBatch(
            jobs=[
                job(1, "etl", {"env": "prod"}, last_run_id="etl-live", last_start_at=NOW - 5,
                    last_success_at=NOW - 400, last_finished_at=NOW - 400, last_duration=50.0,
                    counts=json.dumps({"succeeded": 5}), duration_buckets=json.dumps(buckets),
                    duration_sum=150.0, duration_count=5),
                job(2, "backup", last_run_id="b-1", kind="pushgateway"),
                job(3, "idle"),
            ],
            runs=[*finished, run("etl-live", 1, "running", started_at=NOW - 5, percent=10.0),
                  run("b-1", 2, "failed", started_at=NOW - 60, duration=3.0)],
            alive_at=NOW + 7,
        )
    )  # fmt: skip
    await store.close()

    restored = await make_store().open(NOW + 60, 3, 3600)
    jobs = {job.key.name: job for job in restored.jobs}
    assert set(jobs) == {"etl", "backup", "idle"}
    etl = jobs["etl"]
    assert (etl.id, dict(etl.key.labels), etl.kind) == (1, {"env": "prod"}, "job")
    assert (etl.last_start_at, etl.last_success_at, etl.last_duration) == (NOW - 5, NOW - 400, 50.0)
    assert etl.counts == {"succeeded": 5}
    assert (etl.duration_buckets, etl.duration_sum, etl.duration_count) == (buckets, 150.0, 5)
    assert list(etl.running) == ["etl-live"]
    assert etl.running["etl-live"].readings.percent == 10.0
    assert etl.last_run is etl.running["etl-live"]
    # The newest finished runs, oldest first, as many as recent_runs (3).
    assert [summary.run_id for summary in etl.recent] == ["etl-3", "etl-4", "etl-5"]
    assert [summary.done for summary in etl.recent] == [3.0, 4.0, 5.0]
    assert etl.last_finished is not None
    assert etl.last_finished.run_id == "etl-5"
    backup = jobs["backup"]
    assert backup.kind == "pushgateway"
    assert backup.last_run is not None
    assert (backup.last_run.run_id, backup.last_run.status) == ("b-1", "failed")
    assert backup.last_finished is backup.last_run
    idle = jobs["idle"]
    assert (idle.last_run, idle.last_finished, list(idle.recent)) == (None, None, [])
    assert restored.alive_at == NOW + 7


async def test_the_recent_runs_come_back_in_the_order_they_finished_not_written(
    make_store: MakeStore,
) -> None:
    """Runs written out of order (a long run finishing after shorter, later ones), two
    finishing at the same moment, and one written by a later commit than newer ones."""
    store = make_store()
    await store.open(NOW, 4, 3600)
    finishes = {"long": 900.0, "b": 300.0, "a": 300.0, "c": 500.0, "oldest": 100.0}
    first = [run(run_id, 1, started_at=NOW - 1000, duration=finished) for run_id, finished in
             finishes.items() if run_id != "oldest"]  # fmt: skip
    await store.commit(WriteBatch(jobs=[job(1, "etl", last_run_id="long")], runs=first))
    await store.commit(WriteBatch(runs=[run("oldest", 1, started_at=NOW - 1000, duration=100.0)]))
    await store.close()

    (etl,) = (await make_store().open(NOW + 60, 4, 3600)).jobs

    assert [summary.run_id for summary in etl.recent] == ["a", "b", "c", "long"]
    assert etl.last_run is not None
    assert etl.last_run.run_id == "long"
    assert etl.last_finished is etl.last_run


async def test_it_restores_the_event_ids_seen_within_the_window(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    seen = [SeenRecord("old", "r1", NOW - 7200), SeenRecord("recent", "r2", NOW - 60),
            SeenRecord("newest", "r3", NOW - 1)]  # fmt: skip
    await store.commit(WriteBatch(seen=seen))
    # An id committed twice is kept once, with its first run.
    await store.commit(WriteBatch(seen=[SeenRecord("recent", "other", NOW)]))
    assert sorted(await store.seen_event_ids(["old", "recent", "unknown"])) == [seen[0], seen[1]]
    await store.close()
    restored = await make_store().open(NOW, 32, 3600)
    assert restored.seen == seen[1:]
    assert restored.seen_since == NOW - 3600


async def test_it_restores_alerts_the_outbox_and_silences(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    firing = {"id": "a1", "state": "firing", "rule": "JobFailed", "labels": {"job": "etl"}}
    await store.commit(
        WriteBatch(
            alerts=[AlertRecord("a1", "firing", firing), AlertRecord("a3", "firing", {"id": "a3"})],
            notifications=[OutboxRecord(n, "ops", "a1", NOW + n, {"n": n}) for n in (3, 1, 2)],
            silences=[SilenceRecord("s1", NOW + 3600, json.dumps({"id": "s1"})),
                      SilenceRecord("s2", NOW + 60, json.dumps({"id": "s2"}))],
        )
    )  # fmt: skip
    resolved = {**firing, "state": "resolved"}
    await store.commit(
        WriteBatch(
            deleted_alerts=["a3"],
            alerts=[AlertRecord("a1", "resolved", resolved)],
            notifications=[OutboxRecord(2, "ops", "a1", NOW + 20, {"n": 2, "retried": True})],
            finished_notifications=[3],
            deleted_silences=["s2"],
        )
    )
    await store.close()

    reopened = make_store()
    await reopened.open(NOW, 32, 3600)
    state = await reopened.alerting_state()
    # Deleted, replaced and delivered ones are gone; the outbox in the order of its ids.
    assert state.alerts == [resolved]
    assert state.outbox == [
        OutboxRecord(1, "ops", "a1", NOW + 1, {"n": 1}),
        OutboxRecord(2, "ops", "a1", NOW + 20, {"n": 2, "retried": True}),
    ]
    assert state.silences == [{"id": "s1"}]
