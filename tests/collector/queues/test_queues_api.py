"""GET /queues and /queues/{queue}: a queue known from the runs that name it, what waits
in it now, and what went through it in the last hour and day."""

from __future__ import annotations

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
    assert [run["run_id"] for run in detail["waiting_runs"]] == ["t2"]
    assert detail["waiting_runs"][0]["wait_seconds"] == 15

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
