"""Requests written to a server's socket byte for byte, for what no HTTP client sends."""

from __future__ import annotations

import asyncio
import json
from typing import Any, NamedTuple

from tests.helpers import Client


class Answer(NamedTuple):
    status: int
    head: bytes
    body: bytes
    closed: bool

    def json(self) -> Any:
        return json.loads(self.body)


async def send(client: Client, data: bytes, pieces: int = 1, wait_close: float = 2.0) -> Answer:
    """Send `data` in `pieces` writes, a moment apart, and read one answer (and whether the
    server closes the connection within `wait_close` seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    size = -(-len(data) // pieces)
    for start in range(0, len(data), size):
        writer.write(data[start : start + size])
        await writer.drain()
        await asyncio.sleep(0.01)
        if reader.at_eof() or writer.transport.is_closing():
            break  # refused before the rest was sent
    status, head, body = await read_answer(reader)
    try:
        closed = await asyncio.wait_for(reader.read(), wait_close) == b""
    except TimeoutError:
        closed = False
    writer.close()
    return Answer(status, head, body, closed)


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    return int(head.split(b" ", 2)[1]), head, await reader.readexactly(length)
