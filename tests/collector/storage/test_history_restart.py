"""History survives restarts: running runs, job state, counters and event ids come back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from batchgate.collector.http.keys import ALERTING, INGEST, WRITER
from batchgate.collector.storage.writer import ALIVE_EVERY
from tests.helpers import Client, Clock, get, push

Start = Callable[..., Awaitable[Client]]


async def test_it_restores_running_runs_and_finished_jobs_after_a_restart(
    start: Start, clock: Clock
) -> None:
    client = await start()
    await push(client, [
        {"job": "etl", "labels": {"env": "prod"}, "event": "start", "run_id": "etl-1"},
        {"job": "etl", "labels": {"env": "prod"}, "event": "progress", "run_id": "etl-1",
         "progress": {"done": 10, "total": 40}, "metrics": {"rows_skipped": 2}},
        {"job": "backup", "event": "start", "run_id": "b-1"},
    ])  # fmt: skip
    clock.advance(20)
    await push(client, {"job": "backup", "event": "fail", "run_id": "b-1", "exit_code": 2})
    before = await get(client, "/jobs")
    await client.close()

    client = await start()
    after = await get(client, "/jobs")
    assert after == before
    run = await get(client, "/runs/etl-1")
    assert run["status"] == "running"
    assert run["progress"]["done"] == 10
    assert run["metrics"] == {"rows_skipped": 2}
    clock.advance(5)
    await push(client, {"job": "etl", "labels": {"env": "prod"}, "event": "success",
                        "run_id": "etl-1"})  # fmt: skip
    assert (await get(client, "/runs/etl-1"))["duration_seconds"] == 25


async def _statuses(client: Client) -> tuple[str, str, set[str]]:
    """The run's status, its job's, and the alerts firing, after a sweep and a rules pass."""
    client.app[INGEST].sweep()
    await client.app[ALERTING].evaluate_all(full=True)
    run = await get(client, "/runs/etl-1")
    (job,) = (await get(client, "/jobs"))["jobs"]
    alerts = (await get(client, "/alerts"))["alerts"]
    return run["status"], job["status"], {a["alertname"] for a in alerts if a["state"] == "firing"}


async def test_the_servers_downtime_does_not_count_as_a_runs_silence(
    start: Start, clock: Clock
) -> None:
    """A job goes on running while the server is down (its SDK keeps what it cannot send).
    After an hour's outage its run is neither lost nor stuck and no alert fires; it is lost
    once silent for its lost-after (15 minutes) since the server came back."""
    client = await start()
    await push(client, [
        {"job": "etl", "event": "start", "run_id": "etl-1"},
        {"job": "etl", "event": "progress", "run_id": "etl-1", "progress": {"done": 1, "total": 9}},
    ])  # fmt: skip
    await client.close()

    clock.advance(3600)
    client = await start()
    assert await _statuses(client) == ("running", "running", set())
    clock.advance(899)
    assert await _statuses(client) == ("running", "running", set())
    clock.advance(2)
    status, job_status, firing = await _statuses(client)
    assert (status, job_status) == ("lost", "lost")
    assert "JobLost" in firing


async def test_a_silence_the_server_heard_still_counts_after_a_restart(
    start: Start, clock: Clock
) -> None:
    """Nothing else pushes: the run has been silent for 10 minutes while the server ran
    (sweeping each minute, as it does every second) when it goes down for one minute. The
    10 minutes count: the run is lost 5 minutes after the restart, not 15."""
    client = await start()
    await push(client, {"job": "etl", "event": "start", "run_id": "etl-1"})
    for _ in range(10):
        clock.advance(60)
        client.app[INGEST].sweep()
        await client.app[WRITER].durable()
    await client.close()

    clock.advance(60)
    client = await start()
    clock.advance(300 - ALIVE_EVERY - 1)
    assert (await _statuses(client))[:2] == ("running", "running")
    clock.advance(ALIVE_EVERY + 2)
    status, job_status, firing = await _statuses(client)
    assert (status, job_status) == ("lost", "lost")
    assert "JobLost" in firing


async def test_a_new_database_has_no_downtime_before_it(start: Start, clock: Clock) -> None:
    """No server ever used it: a run reported as started 20 minutes ago, silent since, is
    lost at once (its silence is not taken for the server's downtime)."""
    client = await start()
    started = clock.now - 1200
    await push(client, {"job": "etl", "event": "start", "run_id": "etl-1", "timestamp": started})
    status, job_status, firing = await _statuses(client)
    assert (status, job_status) == ("lost", "lost")
    assert "JobLost" in firing


async def test_a_run_stuck_before_an_outage_is_still_stuck_after_it(
    start: Start, clock: Clock
) -> None:
    """What was true before the outage stays true: the run had made no progress for 20
    minutes (its heartbeats kept it from being lost) when the server went down for an hour."""
    client = await start()
    await push(client, [
        {"job": "etl", "event": "start", "run_id": "etl-1"},
        {"job": "etl", "event": "progress", "run_id": "etl-1", "progress": {"done": 1, "total": 9}},
    ])  # fmt: skip
    for _ in range(4):
        clock.advance(300)
        heartbeat = {"job": "etl", "event": "progress", "run_id": "etl-1",
                     "resources": {"cpu_percent": 1.0}}  # fmt: skip
        await push(client, heartbeat)
    assert await _statuses(client) == ("running", "stuck", {"JobStuck"})
    await client.close()

    clock.advance(3600)
    client = await start()
    assert await _statuses(client) == ("running", "stuck", {"JobStuck"})
    clock.advance(901)  # silent for 15 minutes of the server's uptime since its heartbeat
    assert (await _statuses(client))[:2] == ("lost", "lost")


async def test_it_keeps_run_counters_across_restarts(start: Start, clock: Clock) -> None:
    client = await start()
    for i in range(3):
        await push(client, {"job": "hourly", "event": "success", "duration_seconds": 10 + i})
    await client.close()
    client = await start()
    await push(client, {"job": "hourly", "event": "fail"})
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["runs"] == {"succeeded": 3, "failed": 1}
    body = await (await client.get("/metrics")).text()
    assert 'batchgate_job_runs_total{job="hourly",status="succeeded"} 3.0' in body
    assert 'batchgate_job_duration_seconds_count{job="hourly"} 3.0' in body


async def test_it_still_applies_an_event_id_once_after_a_restart(
    start: Start, clock: Clock
) -> None:
    client = await start()
    event = {"job": "sync", "event": "success", "event_id": "once", "duration_seconds": 1}
    await push(client, event)
    await client.close()
    clock.advance(2 * 3600)  # beyond the in-memory window: the store answers
    client = await start()
    again = await push(client, {**event, "timestamp": clock.now - 2 * 3600})
    assert again["duplicates"] == 1
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["runs"] == {"succeeded": 1}


async def test_it_finds_a_finished_run_that_memory_no_longer_holds(
    start: Start, clock: Clock
) -> None:
    client = await start()
    await push(client, [{"job": "j", "event": "start", "run_id": "old"},
                        {"job": "j", "event": "success", "run_id": "old"}])  # fmt: skip
    for i in range(3):
        clock.advance(1)
        await push(client, {"job": "j", "event": "success", "run_id": f"new-{i}"})
    await client.close()
    client = await start()
    late = await push(client, {"job": "j", "event": "start", "run_id": "old"}, 409)
    assert "already finished" in late["details"][0]["reason"]
    assert (await get(client, "/runs/old"))["status"] == "succeeded"


async def test_a_runs_events_replayed_after_a_restart_change_nothing(
    start: Start, clock: Clock
) -> None:
    """A spool delivered twice, hours apart: events naming their run are harmless replays."""
    client = await start()
    spool = [
        {"job": "etl", "event": "start", "run_id": "r", "event_id": "e1", "timestamp": clock.now},
        {"job": "etl", "event": "progress", "run_id": "r", "event_id": "e2",
         "progress": {"done": 10}, "timestamp": clock.now + 5},
        {"job": "etl", "event": "progress", "run_id": "r", "event_id": "e3",
         "progress": {"done": 20}, "timestamp": clock.now + 10},
    ]  # fmt: skip
    await push(client, spool)
    before = await get(client, "/runs/r")
    await client.close()
    clock.advance(3 * 3600)
    client = await start()
    await push(client, spool)
    after = await get(client, "/runs/r")
    assert after["progress"] == before["progress"]
    assert after["timeline"] == before["timeline"]
    assert after["started_at"] == before["started_at"]
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["running_runs"] == 1


async def test_a_start_kept_by_the_client_through_an_outage_is_not_lost_on_arrival(
    start: Start, clock: Clock
) -> None:
    """The SDK sends what it kept with the times it happened: a run started 30 minutes
    into an hour's outage arrives half an hour old, and its silence starts counting then."""
    client = await start()
    await push(client, {"job": "other", "event": "success", "duration_seconds": 1})
    await client.close()

    clock.advance(3600)
    client = await start()
    kept = {"job": "etl", "event": "start", "run_id": "etl-1", "timestamp": clock.now - 1800}
    await push(client, kept)
    client.app[INGEST].sweep()
    assert (await get(client, "/runs/etl-1"))["status"] == "running"
    clock.advance(901)
    client.app[INGEST].sweep()
    assert (await get(client, "/runs/etl-1"))["status"] == "lost"


async def test_a_restart_restores_each_jobs_recent_runs_and_says_how_long_each_step_took(
    start: Start, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    client = await start()
    for n in range(40):  # more than the 32 recent runs a job keeps
        await push(client, {"job": "etl", "event": "start", "run_id": f"r{n}"})
        clock.advance(60)
        event = "success" if n % 4 else "fail"
        await push(client, {"job": "etl", "event": event, "run_id": f"r{n}"})
    await push(client, {"job": "idle", "event": "start", "run_id": "idle-1"})
    (before,) = (await get(client, "/jobs/etl"))["label_sets"]
    await client.close()

    with caplog.at_level(logging.INFO, logger="batchgate.collector.http.app"):
        client = await start()
    (after,) = (await get(client, "/jobs/etl"))["label_sets"]
    assert len(before["recent_runs"]) == 32
    assert after["recent_runs"] == before["recent_runs"]
    assert after["recent_runs"][0]["run_id"] == "r39"
    assert after["stats"] == before["stats"]
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("restored")]
    assert line.startswith("restored 2 jobs, 1 running runs and 0 Pushgateway groups from ")
    for step in ("jobs", "running runs", "recent runs", "opening the store", "live state"):
        assert f"{step} 0." in line or f"{step} 1." in line, step
