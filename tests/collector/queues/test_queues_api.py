"""GET /queues and /queues/{queue}: a queue known from the runs that name it, what waits
in it now, and what went through it in the last hour and day."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.helpers import Client, Clock, get, push


def _event(event: str, run_id: str, queue: str = "emails", **fields: object) -> dict[str, object]:
    return {"job": "app.tasks.send_email", "event": event, "run_id": run_id, "queue": queue,
            **fields}  # fmt: skip


async def test_a_queue_shows_its_waiting_and_active_runs_and_what_finished(
    client: Client, clock: Clock
) -> None:
    # Four tasks queued; two start after waiting 2 s and 4 s; one of them is retried.
    await push(client, [_event("queued", f"t{n}") for n in range(4)])
    clock.advance(2)
    await push(client, _event("start", "t0"))
    clock.advance(2)
    await push(client, [_event("start", "t1"), _event("retry", "t1")])
    clock.advance(1)
    await push(client, _event("start", "t1"))
    clock.advance(10)
    await push(client, [_event("success", "t0"), _event("fail", "t1")])
    await push(client, _event("cancel", "t3"))

    (queue,) = (await get(client, "/queues"))["queues"]
    assert queue["queue"] == "emails"
    assert (queue["waiting"], queue["active"]) == (1, 0)
    assert queue["oldest_waiting_seconds"] == 15  # t2, queued 15 s ago
    expected = {"completed": 1, "failed": 1, "retried": 1, "cancelled": 1}
    assert queue["last_hour"] == queue["last_day"] == expected
    assert queue["throughput_per_minute"] == 3 / 60
    assert queue["wait_seconds"] == {"p50": 3.0, "p95": 3.9}  # 2 s and 4 s
    assert queue["run_seconds"]["p50"] == (13 + 11) / 2  # t0 ran 13 s, t1 11 s

    detail = await get(client, "/queues/emails")
    assert [run["run_id"] for run in detail["longest_waiting"]] == ["t2"]
    assert detail["longest_waiting"][0]["wait_seconds"] == 15

    clock.advance(2 * 3600)
    (queue,) = (await get(client, "/queues"))["queues"]
    assert queue["last_hour"] == {"completed": 0, "failed": 0, "retried": 0, "cancelled": 0}
    assert queue["last_day"] == expected
    assert queue["wait_seconds"] == {"p50": None, "p95": None}


async def test_queues_are_listed_in_name_order_filtered_and_paginated(client: Client) -> None:
    queues = ["reports", "emails", "emails.bulk", "sms"]
    await push(client, [_event("queued", f"r{n}", queue=name) for n, name in enumerate(queues)])
    names = [q["queue"] for q in (await get(client, "/queues"))["queues"]]
    assert names == ["emails", "emails.bulk", "reports", "sms"]
    first = await get(client, "/queues", limit=2)
    assert [q["queue"] for q in first["queues"]] == ["emails", "emails.bulk"]
    second = await get(client, "/queues", limit=2, cursor=first["next"])
    assert ([q["queue"] for q in second["queues"]], second["next"]) == (["reports", "sms"], None)
    filtered = await get(client, "/queues", q="emails*")
    assert [q["queue"] for q in filtered["queues"]] == ["emails", "emails.bulk"]
    missing = await get(client, "/queues/nope", expect=404)
    assert "nope" in missing["error"]


async def test_a_deleted_job_leaves_its_queue_empty(client: Client) -> None:
    await push(client, [_event("queued", "a"), _event("queued", "b"), _event("start", "b")])
    response = await client.delete("/jobs/app.tasks.send_email")
    assert response.status == 200
    (queue,) = (await get(client, "/queues"))["queues"]
    assert (queue["waiting"], queue["active"]) == (0, 0)


async def test_a_run_whose_progress_names_another_queue_moves_there_for_good(
    start: Callable[..., Awaitable[Client]],
) -> None:
    client = await start()
    await push(client, [_event("queued", "a"), _event("start", "a")])
    await push(client, _event("progress", "a", queue="emails.bulk", progress={"done": 1}))
    await push(client, _event("progress", "a", queue="emails.bulk", progress={"done": 2}))
    await client.close()

    client = await start()
    assert (await get(client, "/runs/a"))["queue"] == "emails.bulk"
    active = {q["queue"]: q["active"] for q in (await get(client, "/queues"))["queues"]}
    assert active == {"emails.bulk": 1}
    trends = await get(client, "/queues/emails.bulk/trends", period="24h")
    assert trends["runs"] == 1


async def test_a_brokers_snapshot_gives_the_depth_for_five_minutes(
    client: Client, clock: Clock
) -> None:
    await push(client, _event("queued", "known"))
    snapshot = {"event": "queue_state", "queue": "emails", "waiting": 120, "delayed": 5,
                "active": 3, "paused": True}  # fmt: skip
    answer = await push(client, [snapshot, {**snapshot, "queue": "reports", "paused": False}])
    assert (answer["accepted"], answer["run_ids"]) == (2, [])
    emails = await get(client, "/queues/emails")
    assert (emails["waiting"], emails["waiting_runs"], emails["delayed"]) == (120, 1, 5)
    assert emails["paused"] is True
    assert emails["broker_reported_at"] is not None
    reports = await get(client, "/queues/reports")
    assert (reports["waiting"], reports["waiting_runs"], reports["paused"]) == (120, 0, False)

    response = await client.get("/metrics")
    text = await response.text()
    assert 'batchgate_queue_waiting{queue="emails"} 120.0' in text
    assert 'batchgate_queue_paused{queue="emails"} 1.0' in text
    assert 'batchgate_queue_delayed{queue="reports"} 5.0' in text

    clock.advance(301)
    emails = await get(client, "/queues/emails")
    assert (emails["waiting"], emails["paused"]) == (1, True)  # the runs' count again


async def test_a_bad_snapshot_is_refused_naming_each_field(client: Client) -> None:
    refused = await push(
        client,
        [{"event": "queue_state", "queue": "emails", "waiting": -1, "paused": "no"},
         {"event": "queue_state", "job": "x", "waiting": 1.5}],
        expect=400,
    )  # fmt: skip
    assert [(d["index"], d["field"]) for d in refused["details"]] == [
        (0, "waiting"), (0, "paused"), (1, "job"), (1, "queue"), (1, "waiting")
    ]  # fmt: skip
    assert (await get(client, "/queues"))["queues"] == []


async def test_a_queues_trends_come_from_the_history(client: Client, clock: Clock) -> None:
    await push(client, [_event("queued", "a"), _event("queued", "b")])
    clock.advance(4)
    await push(client, [_event("start", "a"), _event("retry", "a"), _event("start", "a")])
    clock.advance(6)
    await push(client, [_event("success", "a"), _event("start", "b"), _event("fail", "b")])
    trends = await get(client, "/queues/emails/trends", period="7d")
    assert (trends["queue"], trends["period"], trends["runs"]) == ("emails", "7d", 2)
    assert trends["by_status"] == {"succeeded": 1, "failed": 1}
    assert (trends["retries"], trends["success_rate"]) == (1, 0.5)
    assert trends["wait_seconds"] == {"p50": 7.0, "p95": pytest.approx(9.7)}  # 4 s and 10 s
    assert trends["run_seconds"] == {"p50": 3.0, "p95": pytest.approx(5.7)}  # 6 s and 0 s
    assert (await get(client, "/queues/nope/trends", expect=404))["error"]
    refused = await get(client, "/queues/emails/trends", period="soon", expect=400)
    assert refused["details"][0]["field"] == "period"


async def test_a_queues_figures_of_the_last_day_survive_a_restart(
    start: Callable[..., Awaitable[Client]], clock: Clock
) -> None:
    client = await start()
    # Yesterday evening (20 h ago): one run retried, then succeeded; one failed.
    await push(client, [_event("queued", "y1"), _event("queued", "y2")])
    clock.advance(1)
    await push(client, [_event("start", "y1"), _event("retry", "y1"), _event("start", "y1")])
    await push(client, [_event("success", "y1"), _event("start", "y2"), _event("fail", "y2")])
    clock.advance(20 * 3600 - 1)
    # Within the hour: two tasks wait 2 s and 4 s and run 10 s; one is cancelled waiting;
    # one is retried and waits again, in flight through the restart.
    await push(client, [_event("queued", f"t{n}") for n in range(5)])
    clock.advance(2)
    await push(client, [_event("start", "t0"), _event("start", "t3"), _event("retry", "t3")])
    clock.advance(2)
    await push(client, [_event("start", "t1"), _event("cancel", "t2"), _event("queued", "t4")])
    clock.advance(10)
    await push(client, [_event("success", "t0"), _event("success", "t1")])
    before = await get(client, "/queues/emails")
    await client.close()

    client = await start()
    after = await get(client, "/queues/emails")
    for figure in ("last_hour", "last_day", "throughput_per_minute", "wait_seconds",
                   "run_seconds", "waiting", "active", "oldest_waiting_seconds"):  # fmt: skip
        assert after[figure] == before[figure], figure
    assert after["last_hour"] == {"completed": 2, "failed": 0, "retried": 1, "cancelled": 1}
    assert after["last_day"] == {"completed": 3, "failed": 1, "retried": 2, "cancelled": 1}
    # Then the windows move on as before the restart.
    clock.advance(5 * 3600)
    after = await get(client, "/queues/emails")
    assert after["last_day"] == {"completed": 2, "failed": 0, "retried": 1, "cancelled": 1}
    assert after["last_hour"] == {"completed": 0, "failed": 0, "retried": 0, "cancelled": 0}
