"""`/ping/{job}/pause?for=2h`: a job snoozes its own alerts from its command line; the
silence is audited, replaced by a second pause, and refused for unknown jobs, bad
durations and tokens that may not push the job."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from batchgate.collector.auth import Token
from tests.helpers import Client, Clock, get, push


async def test_a_pause_silences_the_jobs_alerts_for_a_while(
    start: Callable[..., Awaitable[Client]], clock: Clock
) -> None:
    client = await start()
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "success"})

    answer = await client.get("/ping/backup/pause", params={"for": "2h", "host": "db1"})
    assert answer.status == 200, await answer.text()
    silence_id = answer.headers["Batchgate-Silence-Id"]
    (silence,) = await get(client, "/silences")
    assert silence["id"] == silence_id
    assert silence["matchers"] == [
        {"name": "job", "value": "backup", "isRegex": False, "isEqual": True},
        {"name": "host", "value": "db1", "isRegex": False, "isEqual": True},
    ]
    assert silence["endsAt"] == "2023-11-15T00:13:20Z"
    assert silence["comment"] == "paused by /ping/backup/pause for 2h"

    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "fail"})
    (alert,) = (await get(client, "/alerts"))["alerts"]
    assert alert["silenced_by"] == [silence_id]
    (entry,) = [e for e in (await get(client, "/audit"))["entries"] if e["target"] == silence_id]
    assert entry["action"] == "silence.create"

    clock.advance(60)
    again = await client.post("/ping/backup/pause?for=30m&host=db1", data="restoring from tape")
    assert again.headers["Batchgate-Silence-Id"] == silence_id  # replaced, not added
    (silence,) = await get(client, "/silences")
    assert (silence["comment"], silence["endsAt"]) == (
        "restoring from tape",
        "2023-11-14T22:44:20Z",
    )


async def test_a_pause_is_refused_when_it_cannot_be_what_was_meant(
    start: Callable[..., Awaitable[Client]],
) -> None:
    client = await start()
    await push(client, {"job": "backup", "event": "success"})
    for query, field in (("", "for"), ("?for=soon", "for"), ("?for=30d", "for")):
        answer = await client.get(f"/ping/backup/pause{query}")
        assert answer.status == 400
        assert (await answer.json())["details"][0]["field"] == field
    assert (await client.get("/ping/restore/pause?for=1h")).status == 404
    assert (await client.get("/ping/backup/pause?for=1h&host=nowhere")).status == 404
    assert await get(client, "/silences") == []


async def test_only_a_token_that_may_push_the_job_may_pause_it(
    start: Callable[..., Awaitable[Client]],
) -> None:
    def token(name: str, jobs: tuple[str, ...]) -> Token:
        return Token(name, "push", hashlib.sha256(name.encode()).hexdigest(), jobs)

    client = await start(tokens=(token("backups", ("backup*",)), token("etl", ("etl_*",))))
    headers = {"Authorization": "Bearer backups"}
    await push_as(client, headers)
    assert (await client.get("/ping/backup/pause?for=1h", headers=headers)).status == 200
    refused = await client.get("/ping/backup/pause?for=1h", headers={"Authorization": "Bearer etl"})
    assert refused.status == 403


async def push_as(client: Client, headers: dict[str, str]) -> None:
    answer = await client.post("/push", json={"job": "backup", "event": "success"}, headers=headers)
    assert answer.status == 200, await answer.text()
