"""Acting on a queue: `POST /queues/{queue}/pause`, `/resume` and `/runs/{id}/cancel` leave a
command for the queue's workers, which the answer to the next push naming the queue carries,
once; each is in the audit log."""

from __future__ import annotations

from tests.helpers import Client, checked, get, push


def _event(event: str, run_id: str, queue: str = "emails") -> dict[str, object]:
    return {"job": "app.tasks.send_email", "event": event, "run_id": run_id, "queue": queue}


async def test_a_pause_and_a_cancel_reach_the_next_push_of_the_queue_once(client: Client) -> None:
    await push(
        client, [_event("queued", "a"), _event("queued", "b"), _event("queued", "r", "reports")]
    )
    paused = await checked(await client.post("/queues/emails/pause"))
    assert paused == {"queue": "emails", "command": "pause", "pending": True}
    cancel = await checked(await client.post("/runs/b/cancel"))
    assert (cancel["queue"], cancel["command"]) == ("emails", "cancel")

    other = await push(client, _event("start", "r", "reports"))
    assert "commands" not in other  # another queue's push takes none
    answer = await push(client, {"event": "queue_state", "queue": "emails", "waiting": 2})
    assert answer["commands"] == [
        {"command": "pause", "queue": "emails"},
        {"command": "cancel", "run_id": "b", "job": "app.tasks.send_email"},
    ]
    assert "commands" not in await push(client, _event("start", "a"))  # given once

    audit = [
        (entry["action"], entry["target"]) for entry in (await get(client, "/audit"))["entries"]
    ]
    assert ("queue.pause", "emails") in audit
    assert ("run.cancel", "b") in audit


async def test_a_resume_replaces_a_pause_not_yet_taken(client: Client) -> None:
    await push(client, _event("queued", "a"))
    await checked(await client.post("/queues/emails/pause"))
    await checked(await client.post("/queues/emails/resume"))
    answer = await push(client, _event("start", "a"))
    assert answer["commands"] == [{"command": "resume", "queue": "emails"}]


async def test_what_cannot_be_acted_on_is_refused(client: Client) -> None:
    await push(client, [_event("queued", "a"), _event("cancel", "a"),
                        {"job": "cron", "event": "start", "run_id": "c"}])  # fmt: skip
    assert (await client.post("/queues/nope/pause")).status == 404
    assert (await client.post("/runs/nope/cancel")).status == 404
    finished = await checked(await client.post("/runs/a/cancel"), 409)
    assert "already finished (cancelled)" in finished["error"]
    queueless = await checked(await client.post("/runs/c/cancel"), 409)
    assert "names no queue" in queueless["error"]
