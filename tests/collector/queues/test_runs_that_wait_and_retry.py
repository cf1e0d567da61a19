"""Runs that wait in a queue and are retried: `queued` and `retry` on POST /push and /ping,
what GET /runs, /jobs, /summary and /metrics show of them, and that a restart keeps it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Client, Clock, get, push, sweep

Start = Callable[..., Awaitable[Client]]
TASK = "app.tasks.send_email"


def _event(event: str, run_id: str, **fields: object) -> dict[str, object]:
    return {"job": TASK, "event": event, "run_id": run_id, **fields}


async def _metrics(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(await response.text())
        for s in family.samples
    }


async def test_a_task_waits_is_retried_and_succeeds_with_its_attempts_shown(
    client: Client, clock: Clock
) -> None:
    await push(client, _event("queued", "t1", queue="emails", max_attempts=3))
    run = await get(client, "/runs/t1")
    assert (run["status"], run["queue"], run["max_attempts"]) == ("queued", "emails", 3)
    assert run["started_at"] is None
    clock.advance(4)
    assert (await get(client, "/runs/t1"))["wait_seconds"] == 4
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert (job["status"], job["waiting_runs"], job["running_runs"]) == ("queued", 1, 0)

    clock.advance(1)
    await push(client, _event("start", "t1", attempt=1))
    clock.advance(2)
    await push(client, _event("retry", "t1", message="SMTP timeout"))
    run = await get(client, "/runs/t1")
    assert (run["status"], run["attempt"]) == ("retrying", 1)
    clock.advance(10)
    await push(client, _event("start", "t1"))
    clock.advance(3)
    await push(client, _event("success", "t1"))

    run = await get(client, "/runs/t1")
    assert run["status"] == "succeeded"
    assert run["wait_seconds"] == 5
    assert run["duration_seconds"] == 15  # from its first attempt on, not from its queueing
    assert [
        (a["attempt"], a["outcome"], a["duration_seconds"], a["message"]) for a in run["attempts"]
    ] == [(1, "retry", 2, "SMTP timeout"), (2, "succeeded", 3, None)]
    assert [point["event"] for point in run["timeline"]] == [
        "queued", "start", "retry", "start", "success"
    ]  # fmt: skip
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert (job["status"], job["retries"], job["runs"]) == ("succeeded", 1, {"succeeded": 1})
    summary = await get(client, "/summary")
    assert (summary["waiting_runs"], summary["retries"]) == (0, 1)
    (detail,) = (await get(client, f"/jobs/{TASK}"))["label_sets"]
    assert detail["stats"]["wait_seconds"] == {"count": 1, "avg": 5}

    samples = await _metrics(client)
    labels = frozenset({("job", TASK)})
    assert samples[("batchgate_job_retries_total", labels)] == 1
    assert samples[("batchgate_job_wait_seconds_count", labels)] == 1
    assert samples[("batchgate_job_wait_seconds_sum", labels)] == 5
    assert samples[("batchgate_job_wait_seconds_bucket", labels | {("le", "5.0")})] == 1
    assert samples[("batchgate_job_wait_seconds_bucket", labels | {("le", "1.0")})] == 0
    assert samples[("batchgate_job_queued", labels)] == 0


async def test_a_queued_run_that_never_starts_is_not_lost_and_can_be_cancelled(
    client: Client, clock: Clock
) -> None:
    await push(client, _event("queued", "t2", queue="emails"))
    clock.advance(86400)
    sweep(client)
    run = await get(client, "/runs/t2")
    assert run["status"] == "queued"
    assert run["wait_seconds"] == 86400
    assert (await _metrics(client))[("batchgate_job_queued", frozenset({("job", TASK)}))] == 1

    await push(client, _event("cancel", "t2", message="revoked"))
    run = await get(client, "/runs/t2")
    assert (run["status"], run["duration_seconds"], run["attempts"]) == ("cancelled", None, [])
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert (job["status"], job["runs"], job["waiting_runs"]) == ("cancelled", {"cancelled": 1}, 0)


async def test_an_attempt_that_goes_silent_makes_the_run_lost(client: Client, clock: Clock) -> None:
    await push(client, [_event("queued", "t3"), _event("start", "t3", lost_after=60)])
    clock.advance(61)
    sweep(client)
    run = await get(client, "/runs/t3")
    assert run["status"] == "lost"
    assert [(a["attempt"], a["outcome"]) for a in run["attempts"]] == [(1, "lost")]


async def test_a_queued_event_arriving_after_the_start_still_gives_the_wait(
    client: Client, clock: Clock
) -> None:
    """The producer and the worker are two processes: the worker's start may come first."""
    await push(client, _event("start", "t4", timestamp=clock.now - 1))
    await push(client, _event("queued", "t4", queue="emails", timestamp=clock.now - 8))
    run = await get(client, "/runs/t4")
    assert (run["status"], run["queue"], run["wait_seconds"]) == ("running", "emails", 7)


async def test_an_attempt_reported_whole_by_its_end_with_its_duration(
    client: Client, clock: Clock
) -> None:
    """A short task's start and end in one event (the Celery integration sends them so):
    a success or fail with `duration_seconds` begins the waiting run's attempt that long
    before it ends, with what a start would have carried."""
    await push(client, _event("queued", "t6", queue="emails"))
    clock.advance(10)
    worker = {"hostname": "celery@host", "pid": 7}
    await push(client, _event("start", "t6", attempt=1))
    clock.advance(2)
    await push(client, _event("retry", "t6", message="timeout"))
    clock.advance(5)
    await push(client, _event("fail", "t6", attempt=2, duration_seconds=1.5, worker=worker))
    await push(client, _event("queued", "t7", queue="emails"))
    clock.advance(4)
    await push(client, _event("success", "t7", attempt=1, duration_seconds=0.25, worker=worker))

    run = await get(client, "/runs/t6")
    assert (run["status"], run["attempt"], run["worker"]) == ("failed", 2, worker)
    assert [(a["attempt"], a["outcome"], a["duration_seconds"]) for a in run["attempts"]] == [
        (1, "retry", 2), (2, "failed", 1.5)
    ]  # fmt: skip
    run = await get(client, "/runs/t7")
    assert (run["status"], run["wait_seconds"]) == ("succeeded", 3.75)
    assert run["duration_seconds"] == 0.25
    assert run["attempts"][0]["worker"] == worker
    (queue,) = (await get(client, "/queues"))["queues"]
    assert (queue["waiting"], queue["active"]) == (0, 0)
    assert (queue["last_hour"]["completed"], queue["last_hour"]["failed"]) == (1, 1)


async def test_a_retry_or_start_with_attempts_on_ping(client: Client, clock: Clock) -> None:
    response = await client.get(f"/ping/{TASK}/queued", params={"rid": "t5", "queue": "emails"})
    assert response.status == 200
    clock.advance(2)
    assert (await client.get(f"/ping/{TASK}/start", params={"rid": "t5"})).status == 200
    response = await client.post(
        f"/ping/{TASK}/retry", params={"rid": "t5", "attempt": "1", "max_attempts": "4"},
        data=b"connection reset",
    )  # fmt: skip
    assert response.status == 200
    run = await get(client, "/runs/t5")
    assert (run["status"], run["queue"], run["max_attempts"]) == ("retrying", "emails", 4)
    assert run["attempts"][0]["message"] == "connection reset"
    assert run["labels"] == {}


async def test_bad_queue_fields_are_refused_naming_the_field(client: Client) -> None:
    body = [
        _event("queued", "t6", queue=""),
        _event("start", "t7", attempt=0),
        _event("retry", "t8", max_attempts="3"),
        _event("queued", "t9", queue="a/b"),
    ]
    refused = await push(client, body, expect=400)
    assert [(d["index"], d["field"]) for d in refused["details"]] == [
        (0, "queue"), (1, "attempt"), (2, "max_attempts"), (3, "queue")
    ]  # fmt: skip
    assert "from 1 to" in refused["details"][1]["reason"]
    assert (await get(client, "/jobs"))["jobs"] == []
    response = await client.get(f"/ping/{TASK}/start", params={"attempt": "first"})
    assert response.status == 400
    assert "attempt" in await response.text()


async def test_waiting_runs_retries_and_waits_come_back_after_a_restart(
    start: Start, clock: Clock
) -> None:
    client = await start()
    await push(client, [_event("queued", "a", queue="emails"), _event("queued", "b")])
    clock.advance(3)
    await push(client, [_event("start", "a"), _event("retry", "a", message="busy")])
    before = await get(client, f"/jobs/{TASK}")
    await client.close()

    client = await start()
    after = await get(client, f"/jobs/{TASK}")
    assert after == before
    (after,) = after["label_sets"]
    assert (after["status"], after["waiting_runs"], after["retries"]) == ("queued", 2, 1)
    assert sorted(run["status"] for run in after["waiting"]) == ["queued", "retrying"]
    clock.advance(2)
    await push(client, [_event("start", "a"), _event("success", "a"), _event("start", "b")])
    run = await get(client, "/runs/a")
    assert [a["outcome"] for a in run["attempts"]] == ["retry", "succeeded"]
    samples = await _metrics(client)
    labels = frozenset({("job", TASK)})
    assert samples[("batchgate_job_retries_total", labels)] == 1
    assert samples[("batchgate_job_wait_seconds_count", labels)] == 2  # a's, then b's
    assert samples[("batchgate_job_wait_seconds_sum", labels)] == 3 + 5


async def test_each_attempt_shows_the_worker_that_ran_it_through_a_restart(
    start: Start, clock: Clock
) -> None:
    client = await start()
    first = {"hostname": "celery@web-1", "pid": 4242}
    second = {"hostname": "celery@web-2", "pid": 77}
    await push(
        client, [_event("queued", "w1", queue="emails"), _event("start", "w1", worker=first)]
    )
    run = await get(client, "/runs/w1")
    assert run["worker"] == run["attempts"][0]["worker"] == first
    clock.advance(2)
    await push(client, [_event("retry", "w1"), _event("start", "w1", worker=second)])
    await client.close()

    client = await start()
    run = await get(client, "/runs/w1")
    assert run["worker"] == second
    assert [a["worker"] for a in run["attempts"]] == [first, second]
    await push(client, _event("success", "w1"))
    run = await get(client, "/runs/w1")
    assert (run["status"], run["worker"]) == ("succeeded", second)
    # A plain run names its worker too; a run whose events say nothing of one, null.
    await push(client, [{"job": "cron", "event": "start", "run_id": "c1", "worker": {"pid": 9}},
                        {"job": "cron", "event": "start", "run_id": "c2"}])  # fmt: skip
    assert (await get(client, "/runs/c1"))["worker"] == {"hostname": None, "pid": 9}
    assert (await get(client, "/runs/c2"))["worker"] is None


async def test_a_bad_worker_is_refused_naming_its_field(client: Client) -> None:
    body = [
        _event("start", "b1", worker={}),
        _event("start", "b2", worker={"hostname": "celery@web-1", "pid": -1}),
        _event("start", "b3", worker={"hostname": "web\n1"}),
        _event("start", "b4", worker={"host": "web-1"}),
        _event("start", "b5", worker="celery@web-1"),
    ]
    refused = await push(client, body, expect=400)
    assert [(d["index"], d["field"]) for d in refused["details"]] == [
        (0, "worker"), (1, "worker.pid"), (2, "worker.hostname"), (3, "worker.host"), (4, "worker")
    ]  # fmt: skip
    assert (await get(client, "/jobs"))["jobs"] == []
