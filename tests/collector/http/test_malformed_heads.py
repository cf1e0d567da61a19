"""A head that aiohttp's parser refuses (a control byte in a field, a bad method, a
Content-Length that is not a number, two framings, ...) is refused by the front door as
every error is: a 400 in batchgate's JSON shape naming the field, the value (cut short and
printable) and the reason, or plain text on the Pushgateway's routes as the Pushgateway's
own server answers; then the connection closes and the server keeps serving. Heads aiohttp
reads are not refused. What only aiohttp's parser sees (a chunked body's framing, a head
after the first on a kept-alive connection) is refused in JSON by aiohttp's protocol behind
the front door (docs/configuration.md, "The front door")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.collector.http.raw_http import read_answer, send
from tests.helpers import Client, get

PUSH = b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


MALFORMED = {
    "a control byte in a field's name": (
        b"GET /jobs HTTP/1.1\r\nHost: x\r\nBad\x01Header: v\r\n\r\n",
        "header Bad\\x01Header",
        "Bad\\x01Header: v",
        "has a name that is not a token",
    ),
    "a method that is not a token": (
        b"G@T /jobs HTTP/1.1\r\nHost: x\r\n\r\n",
        "method",
        "G@T",
        "is not a token",
    ),
    "a method no server knows": (
        b"FETCH /jobs HTTP/1.1\r\nHost: x\r\n\r\n",
        "method",
        "FETCH",
        "is not a method the server knows",
    ),
    "a Content-Length that is not a number": (
        PUSH + b"Content-Length: abc\r\n\r\n{}",
        "header Content-Length",
        "abc",
        "is not a number of bytes",
    ),
    "a Content-Length too large for any parser": (
        PUSH + b"Content-Length: 18446744073709551616\r\n\r\n{}",
        "header Content-Length",
        "18446744073709551616",
        "is too large",
    ),
    "an HTTP version that is not 1.x": (
        b"GET /jobs HTTP/9.1\r\nHost: x\r\n\r\n",
        "version",
        "HTTP/9.1",
        "is not HTTP/1.1 or HTTP/1.0",
    ),
    "a control byte in the URL": (
        b"GET /jobs\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        "url",
        "/jobs\\x01",
        "has a control character, a space or a non-ASCII byte",
    ),
    "a space in the URL": (
        b"GET /jobs x HTTP/1.1\r\nHost: x\r\n\r\n",
        "request line",
        "GET /jobs x HTTP/1.1",
        "has more than three parts (a space in the URL?)",
    ),
    "a field without a colon": (
        b"GET /jobs HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
        "header line",
        "NoColon",
        "has no colon",
    ),
    "whitespace before a field's colon": (
        b"GET /jobs HTTP/1.1\r\nHost : x\r\n\r\n",
        "header Host",
        "Host : x",
        "has whitespace before its colon",
    ),
    "a control byte in a field's value": (
        b"GET /jobs HTTP/1.1\r\nHost: x\r\nX-Trace: a\x00b\x7f\r\n\r\n",
        "header X-Trace",
        "a\\x00b\\x7f",
        "has a control character",
    ),
    "a folded field": (
        b"GET /jobs HTTP/1.1\r\nHost: x\r\nX-Trace: a\r\n b\r\n\r\n",
        "header line",
        " b",
        "begins with whitespace (obsolete line folding)",
    ),
    "a line ended by LF alone": (
        b"GET /jobs HTTP/1.1\r\nHost: x\r\nX-Trace: a\nX-Other: b\r\n\r\n",
        "header line",
        "X-Trace: a\\x0aX-Other: b",
        "has a CR or an LF alone, not CRLF",
    ),
    "both Content-Length and Transfer-Encoding": (
        PUSH + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "header Transfer-Encoding",
        "chunked",
        "cannot be sent with Content-Length",
    ),
    "two differing Content-Lengths": (
        PUSH + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
        "header Content-Length",
        "3",
        "appears more than once",
    ),
    "a Transfer-Encoding that does not end with chunked": (
        PUSH + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        "header Transfer-Encoding",
        "chunked, gzip",
        "does not end with chunked",
    ),
    "no Host in HTTP/1.1": (
        PUSH.replace(b"Host: x\r\n", b"") + b"Content-Length: 2\r\n\r\n{}",
        "header Host",
        "",
        "is missing (HTTP/1.1 requires it)",
    ),
    "more header fields than the server reads": (
        b"GET /jobs HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-Field-%d: v\r\n" % i for i in range(128))
        + b"\r\n",
        "head",
        "GET /jobs HTTP/1.1\\x0d\\x0aHost: x\\x0d\\x0a"
        "X-Field-0: v\\x0d\\x0aX-Field-1: v\\x0d\\x0aX-Field...",
        "has more than 128 header fields",
    ),
}


@pytest.mark.parametrize(("data", "field", "value", "reason"), MALFORMED.values(), ids=MALFORMED)
async def test_a_malformed_head_is_refused_as_json(
    client: Client, data: bytes, field: str, value: str, reason: str
) -> None:
    answer = await send(client, data)
    assert answer.status == 400
    assert b"Content-Type: application/json; charset=utf-8\r\n" in answer.head
    assert b"Connection: close\r\n" in answer.head
    assert answer.json() == {
        "error": f"invalid {field}: {reason}",
        "details": [{"field": field, "value": value, "reason": reason}],
    }
    assert answer.closed
    assert (await get(client, "/jobs"))["jobs"] == []  # still serving


@pytest.mark.parametrize("data", [case[0] for case in MALFORMED.values()], ids=MALFORMED)
async def test_aiohttp_refuses_the_same_heads_when_the_front_door_is_off(
    start: Callable[..., Awaitable[Client]], data: bytes
) -> None:
    # The front door refuses only what aiohttp would: off, the refusal is aiohttp's own.
    client = await start(http_fast_path=False)
    answer = await send(client, data, wait_close=0.1)
    assert answer.status == 400
    assert b"text/plain" in answer.head


@pytest.mark.parametrize(
    "data",
    [
        b"GET /jobs HTTP/1.0\r\n\r\n",
        b"GET /jobs HTTP/1.1\r\nHost: x\r\nX-Trace: a\tb caf\xc3\xa9\r\n\r\n",
        b'GET /jobs?name="<a|b>" HTTP/1.1\r\nHost: x\r\n\r\n',
        b"\r\nGET /jobs HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET  /jobs HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /jobs HTTP/1.1\r\nHost:\r\nTransfer-Encoding: \r\n\r\n",
        b"PATCH /jobs HTTP/1.1\r\nHost: x\r\n\r\n",
        PUSH + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ],
    ids=[
        "HTTP/1.0 without Host",
        "a tab and UTF-8 in a value",
        "quotes and bars in a URL",
        "an empty line before the request",
        "two spaces after the method",
        "empty Host and Transfer-Encoding",
        "a method no route has",
        "gzip then chunked",
    ],
)
async def test_heads_aiohttp_reads_are_answered_as_with_the_front_door_off(
    start: Callable[..., Awaitable[Client]], data: bytes
) -> None:
    with_front_door = await send(await start(), data, wait_close=0.1)
    without = await send(await start(http_fast_path=False), data, wait_close=0.1)
    assert with_front_door.status == without.status
    assert with_front_door.body == without.body


async def test_a_malformed_head_on_a_pushgateway_route_is_refused_in_plain_text(
    client: Client,
) -> None:
    answer = await send(
        client, b"PUT /metrics/job/backup HTTP/1.1\r\nHost: x\r\nBad\x01Header: v\r\n\r\n"
    )
    assert answer.status == 400
    assert b"Content-Type: text/plain; charset=utf-8\r\n" in answer.head
    assert b"Connection: close\r\n" in answer.head
    # As Go's server answers the Pushgateway's, with batchgate's reason.
    assert answer.body == (
        b"400 Bad Request: invalid header Bad\\x01Header: has a name that is not a token"
    )
    assert answer.closed


async def test_a_head_is_refused_as_soon_as_a_line_ends_with_lf_alone(client: Client) -> None:
    # The head never ends with CRLF CRLF: the bare LF is enough, in whatever pieces.
    answer = await send(client, b"GET /jobs HTTP/1.1\nHost: x\n\n", pieces=3)
    assert answer.status == 400
    assert answer.json()["details"][0]["reason"] == "ends with LF alone, not CRLF"
    assert answer.closed


def assert_refused_by_aiohttp_as_json(status: int, head: bytes, body: bytes) -> dict[str, Any]:
    """A refusal of aiohttp's own parser, in batchgate's shape (`handed_over.py`)."""
    assert status == 400
    assert b"Content-Type: application/json; charset=utf-8\r\n" in head
    refusal = json.loads(body)
    detail: dict[str, Any]
    (detail,) = refusal["details"]
    assert detail["field"] == "request"
    assert refusal["error"] == f"the request was refused: {detail['reason']}"
    assert b"bytearray" not in body
    return detail


async def test_a_chunked_bodys_bad_framing_is_refused_as_json(client: Client) -> None:
    # The front door reads heads, not chunked bodies: aiohttp refuses bad chunks, and its
    # protocol answers in batchgate's shape.
    answer = await send(client, PUSH + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    detail = assert_refused_by_aiohttp_as_json(answer.status, answer.head, answer.body)
    reason = "invalid character in chunk size"
    assert detail == {"field": "request", "value": "zz", "reason": reason}
    assert answer.closed
    assert (await get(client, "/jobs"))["jobs"] == []  # still serving


@pytest.mark.parametrize("data", [case[0] for case in MALFORMED.values()], ids=MALFORMED)
async def test_a_malformed_head_after_a_request_on_the_same_connection_is_refused_as_json(
    client: Client, data: bytes
) -> None:
    # The first request hands the connection to aiohttp: the second is its parser's to
    # refuse, not the front door's.
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_answer(reader))[0] == 200
    writer.write(data)
    detail = assert_refused_by_aiohttp_as_json(*await read_answer(reader))
    assert detail["reason"]
    assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed
    writer.close()
    assert (await get(client, "/jobs"))["jobs"] == []  # still serving


async def test_an_over_long_url_after_a_request_on_the_same_connection_is_refused_as_json(
    client: Client,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_answer(reader))[0] == 200
    writer.write(b"GET /" + b"a" * 50_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    detail = assert_refused_by_aiohttp_as_json(*await read_answer(reader))
    assert detail["value"] == "/" + "a" * 63 + "..."
    writer.close()
