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


async def _raw_events(
    client: Client, version: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """GET /events on a bare socket: its two ends, and the head of the answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(f"GET /events {version}\r\nHost: batchgate\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def test_http_1_1_listeners_get_well_formed_chunks(client: Client) -> None:
    """The bus writes to the socket itself: each write must be one whole chunk."""
    reader, writer, head = await _raw_events(client, "HTTP/1.1")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Transfer-Encoding: chunked" in head
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    await push(client, {"job": "etl", "event": "success", "run_id": "r1"})
    stream = b""
    while b"run.finished" not in stream:
        size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
        size = int(size_line.strip(), 16)
        assert size > 0, "a closing chunk in the middle of the stream"
        chunk = await asyncio.wait_for(reader.readexactly(size + 2), 5)
        assert chunk.endswith(b"\r\n"), "a chunk longer or shorter than its size line"
        stream += chunk[:-2]
    assert stream.startswith(b"retry: 3000\n: connected\n\n")
    assert stream.count(b"\nevent: run.") == 2
    assert stream.endswith(b"\n\n")
    writer.close()


async def test_http_1_0_listeners_get_the_stream_unframed(client: Client) -> None:
    reader, writer, head = await _raw_events(client, "HTTP/1.0")
    assert head.startswith(b"HTTP/1.0 200"), head
    assert b"chunked" not in head
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    stream = b""
    while b"\n\n" not in stream.partition(b"event: run.started")[2]:
        stream += await asyncio.wait_for(reader.read(65536), 5)
    assert stream.startswith(b"retry: 3000\n: connected\n\n")
    assert b"\r\n" not in stream, "chunk framing on a stream that is not chunked"
    message = stream.partition(b"event: run.started\ndata: ")[2].partition(b"\n\n")[0]
    assert json.loads(message)["run_id"] == "r1"
    writer.close()


async def test_head_answers_the_headers_and_ends(client: Client) -> None:
    """HEAD /events must not become a stream: the next request on the connection is answered."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        b"HEAD /events HTTP/1.1\r\nHost: batchgate\r\n\r\n"
        b"GET /-/healthy HTTP/1.1\r\nHost: batchgate\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"text/event-stream" in head
    following = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert following.startswith(b"HTTP/1.1 200"), following
    writer.close()
