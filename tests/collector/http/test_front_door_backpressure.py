"""A client that pipelines pushes and never reads the answers cannot make the server hold
its answers without bound: the front door stops reading a connection while its answers
wait to be sent (the transport's `pause_writing`), as aiohttp does, and carries on once
the client reads them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
from dataclasses import replace

from batchgate.collector.auth import PUSH, Token
from batchgate.collector.http.app import create_app
from batchgate.collector.http.front_door import FrontDoorServer
from batchgate.collector.settings import Settings
from tests.helpers import Clock, Server, until

HELD_AT_MOST = 1 << 20
"""Bytes of answers the server may hold for a client that does not read them."""
KERNEL_BUFFER = 1 << 14
"""The socket buffers on both ends, kept small so that what the kernel does not take
shows at once in the server's transport (Linux lets them grow to megabytes)."""
RUN = "pipelined-" + "x" * 118
"""A run id as long as allowed: each event's id is in its push's answer."""


def push(events: object, *fields: str) -> bytes:
    body = json.dumps(events).encode()
    head = [
        "POST /push HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *fields,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def front_door(server: Server) -> FrontDoorServer:
    assert server.front_door is not None
    return server.front_door


def held_answers(server: Server) -> int:
    """Bytes of answers the server has written and its client has not taken yet, over every
    connection: the front door's and aiohttp's."""
    assert server.runner is not None
    assert server.runner.server is not None
    transports = [connection.transport for connection in front_door(server).doors]
    transports += [handler.transport for handler in server.runner.server.connections]
    return sum(t.get_write_buffer_size() for t in transports if t is not None)


async def pipeline_without_reading(
    server: Server, requests: list[bytes]
) -> tuple[int, list[bytes]]:
    """Send the requests at once on one connection and read nothing until the server has
    either answered them all or stopped reading; then the bytes of answers it held, and
    every answer's status once read."""
    door = front_door(server)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, KERNEL_BUFFER)
    client.setblocking(False)
    await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=client)

    async def connected() -> bool:
        return bool(door.doors)

    await until(connected)
    for connection in door.doors:
        assert connection.transport is not None
        server_socket = connection.transport.get_extra_info("socket")
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_BUFFER)
    writer.write(b"".join(requests))  # what the server does not take waits on the client

    async def answered_all_or_stopped_reading() -> bool:
        return door.answered >= len(requests) or any(
            c.transport is not None and not c.transport.is_reading() for c in door.doors
        )

    try:
        await until(answered_all_or_stopped_reading, within=60)
        held = held_answers(server)
        statuses = await read_statuses(reader, len(requests))
    finally:
        writer.close()
    return held, statuses


async def read_statuses(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    """The status codes of the next `count` answers (bodies never hold a status line)."""
    statuses: list[bytes] = []
    tail = b""  # shorter than a status line: none is counted twice
    while len(statuses) < count:
        chunk = await asyncio.wait_for(reader.read(1 << 16), 60)
        assert chunk, f"closed after {len(statuses)} answers"
        window = tail + chunk
        statuses += re.findall(rb"HTTP/1\.1 (\d{3}) ", window)
        tail = window[-len(b"HTTP/1.1 200") :]
    return statuses


async def test_a_client_that_does_not_read_its_answers_is_not_read_either(
    settings: Settings, clock: Clock
) -> None:
    """25 pushes of 1,000 events each, answered with 1,000 run ids: 3.3 MB of answers."""
    progress = [{"job": "piped", "event": "progress", "run_id": RUN}] * 1000
    requests = [push({"job": "piped", "event": "start", "run_id": RUN})]
    requests += [push(progress) for _ in range(25)]
    server = Server(create_app(settings, clock=clock))
    await server.start_server()
    try:
        held, statuses = await pipeline_without_reading(server, requests)
    finally:
        await server.close()
    assert held < HELD_AT_MOST
    assert statuses == [b"200"] * len(requests)  # every push is answered once it reads


async def test_an_unauthenticated_client_that_does_not_read_is_not_read_either(
    settings: Settings, clock: Clock
) -> None:
    """10,000 pushes without a token: 3.4 MB of refusals."""
    token = Token("pusher", PUSH, hashlib.sha256(b"secret").hexdigest(), ("*",))
    server = Server(create_app(replace(settings, tokens=(token,)), clock=clock))
    started = {"job": "piped", "event": "start", "run_id": RUN}
    requests = [push(started)] * 10_000
    await server.start_server()
    try:
        held, statuses = await pipeline_without_reading(server, requests)
    finally:
        await server.close()
    assert held < HELD_AT_MOST
    assert statuses == [b"401"] * len(requests)
