"""POST /push: a job's life (start, progress, success, fail, cancel) as the API shows it."""

from __future__ import annotations

from typing import Any

from batchgate.collector.core.state import StateSettings
from batchgate.collector.http.keys import STATE
from tests.helpers import Client, Clock, get, push, sweep


async def test_it_assigns_a_run_id_at_start_and_tracks_the_run_to_success(
    client: Client, clock: Clock
) -> None:
    started = await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "start"})
    (run_id,) = started["run_ids"]
    assert started["accepted"] == 1

    clock.advance(30)
    await push(
        client,
        {"job": "backup", "labels": {"host": "db1"}, "event": "progress", "run_id": run_id,
         "progress": {"done": 40, "total": 100}, "resources": {"cpu_percent": 93.5}},
    )  # fmt: skip
    run = await get(client, f"/runs/{run_id}")
    assert run["status"] == "running"
    assert run["progress"]["done"] == 40
    assert run["progress_ratio"] == 0.4
    assert run["resources"]["cpu_percent"] == 93.5
    assert run["elapsed_seconds"] == 30

    clock.advance(45)
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "success",
                        "run_id": run_id, "message": "3 files"})  # fmt: skip
    run = await get(client, f"/runs/{run_id}")
    assert run["status"] == "succeeded"
    assert run["duration_seconds"] == 75
    assert run["message"] == "3 files"
    assert [point["event"] for point in run["timeline"]] == ["start", "progress", "success"]

    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["job"] == "backup"
    assert job["labels"] == {"host": "db1"}
    assert job["status"] == "succeeded"
    assert job["last_duration_seconds"] == 75
    assert job["runs"] == {"succeeded": 1}


async def test_it_records_a_failure_with_its_exit_code_and_message(
    client: Client, clock: Clock
) -> None:
    (run_id,) = (await push(client, {"job": "etl", "event": "start", "run_id": "etl-1"}))["run_ids"]
    assert run_id == "etl-1"
    clock.advance(5)
    await push(client, {"job": "etl", "event": "fail", "run_id": "etl-1", "exit_code": 3,
                        "message": "KeyError: 'id'"})  # fmt: skip
    run = await get(client, "/runs/etl-1")
    assert (run["status"], run["exit_code"], run["message"]) == ("failed", 3, "KeyError: 'id'")
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["status"] == "failed"
    assert job["last_failure_at"] is not None
    assert job["last_success_at"] is None


async def test_it_attaches_events_without_run_id_to_the_running_run(
    client: Client, clock: Clock
) -> None:
    (run_id,) = (await push(client, {"job": "report", "event": "start"}))["run_ids"]
    clock.advance(10)
    progressed = await push(client, {"job": "report", "event": "progress",
                                     "progress": {"percent": 50}})  # fmt: skip
    clock.advance(10)
    finished = await push(client, {"job": "report", "event": "success"})
    assert progressed["run_ids"] == finished["run_ids"] == [run_id]
    run = await get(client, f"/runs/{run_id}")
    assert run["status"] == "succeeded"
    assert run["duration_seconds"] == 20


async def test_it_records_a_cron_job_that_only_reports_its_end(
    client: Client, clock: Clock
) -> None:
    result = await push(client, {"job": "cleanup", "event": "success", "duration_seconds": 42})
    run = await get(client, f"/runs/{result['run_ids'][0]}")
    assert run["status"] == "succeeded"
    assert run["duration_seconds"] == 42
    assert run["finished_at"] is not None


async def test_it_tracks_several_runs_of_one_job_at_once(client: Client, clock: Clock) -> None:
    await push(client, [{"job": "shard", "event": "start", "run_id": f"s{i}"} for i in range(3)])
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["running_runs"] == 3
    await push(client, {"job": "shard", "event": "success", "run_id": "s1"})
    await push(client, {"job": "shard", "event": "fail", "run_id": "s2"})
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["running_runs"] == 1
    assert job["status"] == "running"
    assert job["runs"] == {"succeeded": 1, "failed": 1}


async def test_it_applies_a_repeated_event_id_once(client: Client, clock: Clock) -> None:
    start = {"job": "sync", "event": "start", "run_id": "sync-1", "event_id": "e1"}
    done = {"job": "sync", "event": "success", "run_id": "sync-1", "event_id": "e2"}
    await push(client, [start, done])
    again = await push(client, [start, done])
    assert again == {"accepted": 2, "duplicates": 2, "run_ids": ["sync-1", "sync-1"]}
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["runs"] == {"succeeded": 1}
    assert job["status"] == "succeeded"


async def test_it_uses_the_client_timestamp_for_when_things_happened(
    client: Client, clock: Clock
) -> None:
    an_hour_ago = clock.now - 3600
    await push(client, [
        {"job": "late", "event": "start", "run_id": "l1", "timestamp": an_hour_ago},
        {"job": "late", "event": "success", "run_id": "l1", "timestamp": an_hour_ago + 60},
    ])  # fmt: skip
    run = await get(client, "/runs/l1")
    assert run["duration_seconds"] == 60
    assert run["started_at"] == "2023-11-14T21:13:20.000Z"


async def test_it_marks_a_silent_run_lost_and_revives_it_when_it_speaks(
    client: Client, clock: Clock
) -> None:
    await push(client, {"job": "nightly", "event": "start", "run_id": "n1", "lost_after": 60})
    clock.advance(61)
    run = await get(client, "/runs/n1")
    assert run["status"] == "lost"

    assert sweep(client) == 1  # records it as lost, as its timer would
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["runs"].get("lost") == 1
    assert job["status"] == "lost"

    await push(client, {"job": "nightly", "event": "success", "run_id": "n1"})
    run = await get(client, "/runs/n1")
    assert run["status"] == "succeeded"
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["status"] == "succeeded"


async def test_it_reads_a_running_job_without_progress_as_stuck(
    start: object, clock: Clock
) -> None:
    from batchgate.collector.core.state import StateSettings

    client = await start(runs=StateSettings(stuck_after=300, lost_after=3600))  # type: ignore[operator]
    await push(client, {"job": "crunch", "event": "start", "progress": {"done": 1}})
    clock.advance(200)
    await push(client, {"job": "crunch", "event": "progress",
                        "resources": {"cpu_percent": 100}})  # fmt: skip
    clock.advance(200)
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["status"] == "stuck", "a heartbeat keeps the run alive but is not progress"
    await push(client, {"job": "crunch", "event": "progress", "progress": {"done": 2}})
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["status"] == "running"


async def test_it_refuses_a_run_id_that_belongs_to_another_job(client: Client) -> None:
    await push(client, {"job": "a", "event": "start", "run_id": "shared"})
    refused = await push(client, {"job": "b", "event": "progress", "run_id": "shared"}, 409)
    assert refused["details"] == [
        {"index": 0, "field": "run_id", "reason": "run shared belongs to job a"}
    ]
    assert [job["job"] for job in (await get(client, "/jobs"))["jobs"]] == ["a"]


async def test_it_refuses_to_restart_a_finished_run(client: Client) -> None:
    await push(client, [{"job": "a", "event": "start", "run_id": "r"},
                        {"job": "a", "event": "success", "run_id": "r"}])  # fmt: skip
    refused = await push(client, {"job": "a", "event": "start", "run_id": "r"}, 409)
    assert refused["details"][0]["field"] == "run_id"
    assert "already finished" in refused["details"][0]["reason"]


async def test_it_keeps_the_newest_progress_when_events_arrive_out_of_order(
    client: Client, clock: Clock
) -> None:
    await push(client, {"job": "etl", "event": "start", "run_id": "r"})
    newer = {"job": "etl", "event": "progress", "run_id": "r", "progress": {"done": 80},
             "timestamp": clock.now + 20}  # fmt: skip
    older = {**newer, "progress": {"done": 30}, "timestamp": clock.now + 10}
    await push(client, [newer, older])
    run = await get(client, "/runs/r")
    assert run["progress"]["done"] == 80


async def test_a_start_sent_twice_is_applied_once(client: Client, clock: Clock) -> None:
    start = {"job": "etl", "event": "start", "run_id": "r1", "progress": {"done": 1}}
    await push(client, start)
    first = (await get(client, "/runs/r1"))["started_at"]
    clock.advance(5)
    await push(client, start)  # a client retrying without an event id
    run = await get(client, "/runs/r1")
    assert [point["event"] for point in run["timeline"]] == ["start"]
    assert run["started_at"] == first
    assert (await get(client, "/summary"))["running_runs"] == 1


async def test_memory_keeps_a_jobs_last_runs_and_a_bounded_cache_not_every_run(
    start: Any, clock: Clock
) -> None:
    client = await start(runs=StateSettings(run_cache=20))
    for n in range(200):
        await push(client, [
            {"job": "etl", "event": "start", "run_id": f"r{n}"},
            {"job": "etl", "event": "success", "run_id": f"r{n}", "duration_seconds": 1},
        ])  # fmt: skip
        clock.advance(60)
    state = client.app[STATE]
    assert len(state.runs) <= 2  # the job's last run and its last finished one
    assert len(state._finished) <= 20
    # What left memory is still served, from the store:
    assert (await get(client, "/runs/r0"))["status"] == "succeeded"
    assert (await get(client, "/runs/r199"))["status"] == "succeeded"
