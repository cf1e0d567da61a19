"""GET /events: every state change arrives live as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientResponse

from tests.helpers import Client, push


async def _next_event(response: ClientResponse) -> tuple[str, Any]:
    """Read lines until one whole event has arrived; comments are skipped."""
    event_type, data = "message", None
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            event_type = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and data is not None:
            return event_type, data


async def test_it_streams_a_runs_life_as_it_happens(client: Client) -> None:
    response = await client.get("/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    await push(client, {"job": "etl", "event": "progress", "run_id": "r1",
                        "progress": {"done": 5, "total": 10}})  # fmt: skip
    await push(client, {"job": "etl", "event": "success", "run_id": "r1"})
    received = [await _next_event(response) for _ in range(3)]
    assert [(kind, data["run_id"], data["status"]) for kind, data in received] == [
        ("run.started", "r1", "running"),
        ("run.progress", "r1", "running"),
        ("run.finished", "r1", "succeeded"),
    ]
    assert received[1][1]["progress_ratio"] == 0.5
    response.close()


async def test_it_filters_by_job_and_reports_deletions(client: Client) -> None:
    response = await client.get("/events", params={"job": "backup*"})
    await push(client, {"job": "etl", "event": "start"})
    await push(client, {"job": "backup_db", "event": "start"})
    kind, data = await _next_event(response)
    assert (kind, data["job"]) == ("run.started", "backup_db")
    await client.delete("/jobs/backup_db")
    kind, data = await _next_event(response)
    assert (kind, data) == ("job.deleted", {"job": "backup_db", "labels": {}})
    response.close()
