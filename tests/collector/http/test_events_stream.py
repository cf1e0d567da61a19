"""GET /events: every state change arrives live as Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse

from batchgate.collector.live import LOG_SIZE
from tests.helpers import Client, ServerProcess, push


async def _next_message(response: ClientResponse) -> tuple[str | None, str, Any]:
    """Read lines until one whole event has arrived, comments skipped: its id, type, data."""
    event_id, event_type, data = None, "message", None
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("id: "):
            event_id = line.removeprefix("id: ")
        elif line.startswith("event: "):
            event_type = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and data is not None:
            return event_id, event_type, data


async def _next_event(response: ClientResponse) -> tuple[str, Any]:
    _, event_type, data = await _next_message(response)
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


def _pushes_a_stalled_socket_cannot_absorb() -> int:
    """Pushes of 1,000 events (over 400 bytes each: these are about 520) that overflow a
    stalled listener: the kernel's largest send buffer, the 256 KiB the server queues before
    it stops writing, one push's batch, and then the bus's whole log."""
    largest_send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    queued = largest_send_buffer + 256 * 1024 + 1000 * 520
    return math.ceil(queued / (1000 * 400)) + LOG_SIZE // 1000 + 1


async def test_a_listener_that_stops_reading_is_told_to_resync_and_holds_up_nobody(
    client: Client,
) -> None:
    """A real socket that stops reading: the others get every event; once it reads again,
    it gets what was already on its way, one `resync` for everything it was not given, and
    from there on every new event."""
    slow_socket = socket.socket()
    slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow_socket.setblocking(False)
    await asyncio.get_running_loop().sock_connect(
        slow_socket, (client.server.host, client.server.port)
    )
    slow_reader, slow_writer = await asyncio.open_connection(sock=slow_socket, limit=1 << 24)
    slow_writer.write(b"GET /events HTTP/1.1\r\nHost: batchgate\r\n\r\n")
    await asyncio.wait_for(slow_reader.readuntil(b": connected\n\n"), 5)
    transport = slow_writer.transport
    assert isinstance(transport, asyncio.Transport)
    transport.pause_reading()  # stops reading, as a stalled client does
    quick = await client.get("/events")
    pushes = _pushes_a_stalled_socket_cannot_absorb()

    async def follow() -> list[str]:
        seen: list[str] = []
        while len(seen) < pushes * 1000 and "resync" not in seen:
            event_type, _ = await _next_event(quick)
            seen.append(event_type)
        return seen

    following = asyncio.create_task(follow())
    for number in range(pushes):  # a thousand runs started, then their progress
        await push(client, [
            {"job": "etl", "event": "progress" if number else "start", "run_id": f"r{n}",
             "progress": {"done": number * 1000 + n, "total": 10**6}}
            for n in range(1000)
        ])  # fmt: skip
    seen = await following
    # The stalled listener held nobody up:
    assert seen == ["run.started"] * 1000 + ["run.progress"] * (pushes - 1) * 1000

    transport.resume_reading()
    stream = b""
    deadline = asyncio.get_running_loop().time() + 30
    while b"event: resync" not in stream or b'"done":999999' not in stream:
        assert asyncio.get_running_loop().time() < deadline, "no resync after reading again"
        # A new event gets the bus writing to it again once its socket has drained.
        await push(client, {"job": "etl", "event": "progress", "run_id": "r0",
                            "progress": {"done": 999999, "total": 10**6}})  # fmt: skip
        with contextlib.suppress(TimeoutError):
            stream += await asyncio.wait_for(slow_reader.read(1 << 20), 0.2)
    before, _, after = stream.partition(b"event: resync\ndata: ")
    notice = json.loads(after.partition(b"\n\n")[0])
    dones = [int(float(m.split(b",")[0])) for m in before.split(b'"done":')[1:]]
    assert dones == list(range(len(dones))), "what it got before the resync has a gap"
    assert len(dones) < pushes * 1000
    assert notice["dropped"] >= pushes * 1000 - len(dones)
    assert b"event: resync" not in after  # told once
    after_dones = [m.split(b",")[0] for m in after.split(b'"done":')[1:]]
    assert after_dones, "nothing new after the resync"
    assert set(after_dones) == {b"999999.0"}, "the backlog came after the resync"
    quick.close()
    slow_writer.close()


def _listeners(server: ServerProcess) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("batchgate_events_subscribers "):
                return float(line.split()[1])
    raise AssertionError("no batchgate_events_subscribers in /metrics")


def test_a_listener_that_hangs_up_is_forgotten(
    server_process: Callable[..., ServerProcess],
) -> None:
    """On the real server (which does not cancel a handler when its client goes): while
    events flow, at the next write to it; when none do, at the keepalive timer's next turn,
    within 5 s."""
    server = server_process()
    for events_flow, within in ((True, 3.0), (False, 10.0)):
        listener = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        listener.sendall(b"GET /events HTTP/1.1\r\nHost: batchgate\r\n\r\n")
        received = b""
        while b": connected" not in received:
            received += listener.recv(65536)
        assert _listeners(server) == 1
        listener.close()
        deadline = time.monotonic() + within
        while _listeners(server) != 0:
            assert time.monotonic() < deadline, f"still listed {within:g} s after hanging up"
            if events_flow:
                post = urllib.request.Request(
                    f"{server.url}/push", b'{"job": "etl", "event": "start"}',
                    {"Content-Type": "application/json"},
                )  # fmt: skip
                urllib.request.urlopen(post, timeout=5).close()
            time.sleep(0.05)  # the interval of the poll


async def test_a_client_that_reconnects_gets_what_it_missed(client: Client) -> None:
    other = await client.get("/events")  # another dashboard stays connected meanwhile
    first = await client.get("/events")
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    last_seen, kind, _ = await _next_message(first)
    assert kind == "run.started"
    first.close()  # the connection drops
    await push(client, {"job": "etl", "event": "success", "run_id": "r1"})

    again = await client.get("/events", headers={"Last-Event-ID": str(last_seen)})
    event_id, kind, data = await _next_message(again)
    assert (kind, data["run_id"], data["status"]) == ("run.finished", "r1", "succeeded")
    assert int(event_id or 0) == int(str(last_seen)) + 1
    # The same with the parameter, for clients that cannot set headers:
    by_parameter = await client.get("/events", params={"last_event_id": str(last_seen)})
    assert (await _next_message(by_parameter))[:2] == (event_id, "run.finished")
    for response in (other, again, by_parameter):
        response.close()


async def test_a_client_that_reconnects_to_a_restarted_server_is_told_to_resync(
    start: Callable[..., Any],
) -> None:
    client = await start()
    events = await client.get("/events")
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    last_seen, _, _ = await _next_message(events)
    events.close()
    await client.close()

    client = await start()  # the same data directory, a new process's events
    again = await client.get("/events", headers={"Last-Event-ID": str(last_seen)})
    _, kind, notice = await _next_message(again)
    assert kind == "resync"
    assert "reload" in notice["reason"]
    await push(client, {"job": "etl", "event": "success", "run_id": "r1"})
    event_id, kind, _ = await _next_message(again)
    assert kind == "run.finished"
    assert int(event_id or 0) > int(str(last_seen))  # ids are never reused
    again.close()
    await client.close()
