"""A head longer than the server reads (a 50 KB URL, a huge header field, a head that never
ends) is refused in batchgate's JSON shape, naming what was too long, however its bytes
arrive (in plain text on the Pushgateway's routes); the connection is closed and the server
keeps serving. A long head within the limits is read as before. (With `http.fast_path:
false`, aiohttp alone answers such heads, in its own plain text: docs/configuration.md.)"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import pytest

from batchgate.collector.http.plain_push import MAX_FIELD, MAX_HEAD_HELD, MAX_REQUEST_LINE
from tests.collector.http.raw_http import send as raw_send
from tests.helpers import Client, get


async def send(client: Client, data: bytes, pieces: int = 1) -> tuple[int, dict[str, Any]]:
    """Send `data` in `pieces` writes, a moment apart; the answer's status and JSON body,
    and check that the server then closed the connection."""
    answer = await raw_send(client, data, pieces)
    assert answer.closed
    return answer.status, answer.json()


@pytest.mark.parametrize("pieces", [1, 40])
async def test_a_50_kb_url_is_refused_as_json(client: Client, pieces: int) -> None:
    url = "/jobs?label=" + "a" * 50_000
    status, body = await send(client, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), pieces)
    assert status == 414
    assert body["error"] == f"the request's URL is longer than {MAX_REQUEST_LINE} bytes"
    (detail,) = body["details"]
    assert detail["field"] == "url"
    assert detail["value"].startswith("/jobs?label=aaa")
    assert len(detail["value"]) < 100  # not the whole URL back
    assert (await get(client, "/jobs"))["jobs"] == []  # still serving


async def test_a_huge_header_field_is_refused_as_json(client: Client) -> None:
    data = b"POST /push HTTP/1.1\r\nHost: x\r\nX-Trace: " + b"t" * (MAX_FIELD + 1) + b"\r\n\r\n"
    status, body = await send(client, data, pieces=5)
    assert status == 431
    assert body["details"][0]["field"] == "header X-Trace"
    assert "longer than 8190 bytes" in body["error"]


async def test_a_head_that_never_ends_is_refused_once_it_passes_the_limit(
    client: Client,
) -> None:
    fields = b"".join(b"X-Field-%d: %s\r\n" % (i, b"v" * 1000) for i in range(80))
    status, body = await send(client, b"GET /jobs HTTP/1.1\r\nHost: x\r\n" + fields, pieces=8)
    assert status == 431
    assert body["error"] == f"the request's head is longer than {MAX_HEAD_HELD} bytes"


async def test_long_heads_within_the_limits_are_read(client: Client) -> None:
    name = "j" * 1024
    fields = "".join(f"X-Field-{i}: {'v' * 4000}\r\n" for i in range(5))  # a 20 KB head
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    body = json.dumps({"job": name, "event": "success"}).encode()
    writer.write(
        f"POST /push HTTP/1.1\r\nHost: x\r\n{fields}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    writer.close()
    long_url = "/jobs/" + "%E2%82%AC" * 1024  # a job name of 1,024 euro signs: 9 KB
    response = await client.get(long_url, headers={"X-Trace": "t" * 8000})
    assert response.status == 404  # read, and answered: no such job


async def test_a_long_url_on_a_pushgateway_route_is_refused_in_plain_text(
    client: Client,
) -> None:
    # As Go's server answers the Pushgateway's (with batchgate's reason).
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"PUT /metrics/job/" + b"a" * 50_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert b"Content-Type: text/plain; charset=utf-8\r\n" in head
    phrase = HTTPStatus(414).phrase  # "URI Too Long"; "Request-URI Too Long" before 3.13
    assert (
        body == f"414 {phrase}: the request's URL is longer than {MAX_REQUEST_LINE} bytes".encode()
    )
    assert (await get(client, "/jobs"))["jobs"] == []
