"""The front door (collector/http/front_door.py) answers plain pushes itself and hands every
other request to aiohttp: each request here goes, byte for byte, to batchgate as `batchgate
serve` runs it and to the same application behind aiohttp alone, and must get the same
answer from both (but the date), leave both in the same state and count the same."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aiohttp.test_utils import TestServer

from batchgate.collector.auth import PUSH, READ, Token
from batchgate.collector.http.app import create_app
from batchgate.collector.http.front_door import FrontDoorServer
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import DATABASE_FILE, SqliteStore
from tests.collector.otlp import bodies
from tests.helpers import Clock, Server, until

HOST = b"Host: 127.0.0.1\r\n"
PROTOBUF = "application/x-protobuf"
JSON_MEDIA = "application/json"


class Answer(NamedTuple):
    status: int
    fields: tuple[tuple[str, str], ...]
    """The header fields in order, without Date."""
    body: bytes


def request(
    method: str,
    target: str,
    body: bytes = b"",
    *fields: str,
    content_type: str | None = "application/json",
    version: str = "HTTP/1.1",
) -> bytes:
    head = [f"{method} {target} {version}", "Host: 127.0.0.1"]
    if content_type is not None:
        head.append(f"Content-Type: {content_type}")
    head.extend(fields)
    if not any(
        field.lower().startswith(("content-length", "transfer-encoding")) for field in fields
    ):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def push(*events: dict[str, Any], fields: tuple[str, ...] = ()) -> bytes:
    body = json.dumps(events[0] if len(events) == 1 else list(events)).encode()
    return request("POST", "/push", body, *fields)


def group_push(path: str, text: str, method: str = "POST", *fields: str) -> bytes:
    return request(method, f"/metrics/{path}", text.encode(), *fields, content_type="text/plain")


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    status_line = await reader.readline()
    assert status_line.startswith(b"HTTP/1."), status_line
    fields = []
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        fields.append((name, value.strip()))
    length = {name.lower(): value for name, value in fields}.get("content-length")
    body = await reader.readexactly(int(length)) if length is not None else await reader.read()
    fields = [(name, value) for name, value in fields if name != "Date"]
    return Answer(int(status_line.split()[1]), tuple(fields), body)


async def exchange(port: int, data: bytes, answers: int = 1) -> list[Answer]:
    """Write `data` on a new connection at once; read `answers` answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return [await asyncio.wait_for(read_answer(reader), 10) for _ in range(answers)]
    finally:
        writer.close()


class Pair(NamedTuple):
    front: Server
    plain: TestServer

    @property
    def door(self) -> FrontDoorServer:
        assert self.front.front_door is not None
        return self.front.front_door

    async def both(self, data: bytes, answers: int = 1) -> list[Answer]:
        """The answers of both servers, which must be the same; the front door's."""
        front = await exchange(self.front.port, data, answers)  # type: ignore[arg-type]
        plain = await exchange(self.plain.port, data, answers)  # type: ignore[arg-type]
        assert front == plain
        return front


async def _pair(settings: Settings, clock: Clock, **overrides: Any) -> AsyncIterator[Pair]:
    front_settings = replace(settings, data_dir=settings.data_dir / "front", **overrides)
    plain_settings = replace(settings, data_dir=settings.data_dir / "plain", **overrides)
    front = Server(create_app(front_settings, clock=clock))
    plain = TestServer(create_app(plain_settings, clock=clock))
    await front.start_server()
    await plain.start_server()
    try:
        yield Pair(front, plain)
    finally:
        await front.close()
        await plain.close()


@pytest.fixture
async def pair(settings: Settings, clock: Clock) -> AsyncIterator[Pair]:
    async for made in _pair(settings, clock):
        yield made


def gauges(text: str) -> str:
    return f"# TYPE {text.split()[0]} gauge\n{text}\n"


def export(body: bytes, media: str = PROTOBUF, *fields: str, target: str = "/v1/metrics") -> bytes:
    return request("POST", target, body, *fields, content_type=media)


EXPORT = bodies.request(
    [bodies.counter("rows.loaded", 5, unit="{row}", table="orders"),
     bodies.gauge("queue.depth", 3.5),
     bodies.counter("emails", 2, temporality=bodies.DELTA, start=bodies.NOW_NS + 10,
                    time=bodies.NOW_NS + 20)],
    service="etl", **{"service.instance.id": "db1", "host.name": "h1"},
)  # fmt: skip
ANOTHER_TYPE = bodies.request([bodies.gauge("rows_loaded_total", 1.0)], service="otlp_other")
OTLP_ANSWERED_BY_THE_FRONT_DOOR = [
    export(bodies.as_protobuf(EXPORT)),
    export(bodies.as_protobuf(EXPORT)),  # the delta again: refused in partial_success
    export(bodies.as_json(EXPORT), JSON_MEDIA),
    export(gzip.compress(bodies.as_protobuf(EXPORT)), PROTOBUF, "Content-Encoding: gzip"),
    export(gzip.compress(bodies.as_json(EXPORT)), "Application/JSON; charset=utf-8",
           "Content-Encoding: GZIP"),
    export(bodies.as_json(EXPORT), JSON_MEDIA, "Content-Encoding: identity"),
    export(bodies.as_protobuf(ANOTHER_TYPE)),  # a type another group holds: partial success
    export(b"\xff\xff not protobuf"),
    export(b'{"resourceMetrics": "no"}', JSON_MEDIA),
    export(b"not gzip", PROTOBUF, "Content-Encoding: gzip"),
    export(gzip.compress(b"\0" * (5 << 20)), PROTOBUF, "Content-Encoding: gzip"),  # inflates past
    export(b""),
    export(bodies.as_protobuf(EXPORT), PROTOBUF, "Connection: close"),
]  # fmt: skip
"""OTLP exports (POST /v1/metrics) that the front door answers."""

ANSWERED_BY_THE_FRONT_DOOR = [
    push({"job": "nightly", "event": "start", "run_id": "r1"}),
    push({"job": "nightly", "event": "progress", "run_id": "r1", "event_id": "e1",
          "progress": {"done": 10, "total": 100}, "resources": {"cpu_percent": 12.5}}),
    push({"job": "nightly", "event": "progress", "run_id": "r1", "event_id": "e1"}),  # again
    push({"job": "nightly", "event": "finish", "run_id": "r1"}),
    push({"job": "nightly", "event": "progress", "run_id": "r1", "progress": {"done": -1}}),
    push({"job": "a", "event": "start", "run_id": "r2"}, {"job": "b", "event": "nope"}),
    request("POST", "/push", b'{"job": "broken", '),
    request("POST", "/push", b"[]"),
    request("POST", "/push", json.dumps({"job": "x" * 2000, "event": "start"}).encode()),
    request("POST", "/push", b'{"job": "nightly", "event": "success", "run_id": "r1"}',
            content_type="application/json; charset=utf-8"),
    push({"job": "closing", "event": "start", "run_id": "r3"}, fields=("Connection: close",)),
    push({"job": "kept", "event": "start", "run_id": "r4"}, fields=("Connection: keep-alive",)),
    group_push("job/backup/instance/db1", gauges("backup_bytes 1.5e9")),
    group_push("job/backup/instance/db1", gauges("backup_bytes 1.6e9")),
    group_push("job/backup/instance/db1", gauges("backup_files 12"), method="PUT"),
    group_push("job/other", "# TYPE backup_files counter\nbackup_files 1\n"),  # another type
    group_push("job/backup/instance/db2", "backup_files{a=\"1\"} 1 1700000000000\n"),
    group_push("job@base64/!!!", gauges("x 1")),
    group_push(f"job@base64/{base64.urlsafe_b64encode(b'a/b').decode()}/l@base64/=",
               gauges("y 2")),
    group_push("job/j/__reserved/v", gauges("x 1")),
    group_push("job/", gauges("x 1")),
    group_push("job/j", "x{ 1\n"),
    group_push("job/j%20with%20space/instance/caf%C3%A9", gauges("z 3")),
    group_push("job/j", "not text at all \x00\n"),
    group_push("job/batchgate", gauges("batchgate_jobs 1")),
    *OTLP_ANSWERED_BY_THE_FRONT_DOOR,
]  # fmt: skip


@pytest.mark.parametrize("data", ANSWERED_BY_THE_FRONT_DOOR, ids=lambda data: repr(data[:60]))
async def test_a_plain_push_is_answered_as_aiohttp_answers_it(pair: Pair, data: bytes) -> None:
    await pair.both(data)
    assert pair.door.answered == 1


async def test_otlp_exports_get_the_answers_otlp_specifies(pair: Pair) -> None:
    answers = [(await pair.both(data))[0] for data in OTLP_ANSWERED_BY_THE_FRONT_DOOR]
    assert [answer.status for answer in answers] == [200] * 7 + [400] * 3 + [413, 200, 200]
    rejected = [
        bodies.response_from(
            answer.body, dict(answer.fields)["Content-Type"]
        ).partial_success.rejected_data_points
        for answer in answers[:7]
    ]
    assert rejected == [0, 1, 1, 1, 1, 1, 1]  # the delta point once counted, then overlapping
    assert pair.door.answered == len(OTLP_ANSWERED_BY_THE_FRONT_DOOR)


async def test_a_sequence_of_pushes_leaves_both_in_the_same_state(pair: Pair) -> None:
    for data in ANSWERED_BY_THE_FRONT_DOOR:
        await pair.both(data)
    assert pair.door.answered == len(ANSWERED_BY_THE_FRONT_DOOR)
    for state in (b"/jobs?limit=1000", b"/jobs/nightly", b"/runs/r1", b"/api/v1/metrics"):
        await pair.both(b"GET " + state + b" HTTP/1.1\r\n" + HOST + b"\r\n")
    (front,) = await exchange(pair.front.port, b"GET /metrics HTTP/1.1\r\n" + HOST + b"\r\n")  # type: ignore[arg-type]
    (plain,) = await exchange(pair.plain.port, b"GET /metrics HTTP/1.1\r\n" + HOST + b"\r\n")  # type: ignore[arg-type]

    def pushes(exposition: bytes) -> list[bytes]:
        """Pushed groups' series, and the requests counted on the push routes."""
        return [
            line
            for line in exposition.splitlines()
            if (not line.startswith(b"batchgate_") and b'job="' in line)
            or (
                line.startswith(b"batchgate_http_requests_total")
                and (b"push" in line or b"otlp" in line)
            )
        ]

    assert pushes(front.body) == pushes(plain.body)
    assert b'handler="pushgateway_push"' in b"".join(pushes(front.body))
    assert b'handler="otlp_metrics"' in b"".join(pushes(front.body))
    assert b'rows_loaded_total{instance="db1",job="etl"' in front.body


GZIPPED = gzip.compress(json.dumps({"job": "zipped", "event": "start", "run_id": "z"}).encode())
CHUNKED = b'1d\r\n{"job": "c", "event": "start"\r\n11\r\n, "run_id": "r9"}\r\n0\r\n\r\n'
BOTH_LENGTHS = ("Transfer-Encoding: chunked", f"Content-Length: {len(CHUNKED)}")
HANDED_OVER = [
    export(b"{}", "text/plain"),
    export(b"{}", None),  # type: ignore[arg-type]
    export(b"{}", JSON_MEDIA, "Content-Encoding: br"),
    export(b"{}", JSON_MEDIA, "Content-Encoding: gzip, gzip"),
    export(b"{}", JSON_MEDIA, target="/v1/metrics?x=1"),
    export(b"{}", JSON_MEDIA, target="/v1/metrics/"),
    request("PUT", "/v1/metrics", b"{}"),
    request("POST", "/push", b"{}", content_type="text/plain"),
    request("POST", "/push", b"{}", content_type=None),
    request("POST", "/push", GZIPPED, "Content-Encoding: gzip"),
    request("POST", "/push", CHUNKED, "Transfer-Encoding: chunked"),
    request("POST", "/push", b"{}", "Connection: upgrade", "Upgrade: websocket"),
    request("POST", "/push", b'{"job": "o", "event": "start", "run_id": "o"}', version="HTTP/1.0"),
    request("POST", "/push?x=1", b'{"job": "q", "event": "start", "run_id": "r6"}'),
    request("POST", "/push/", b"{}"),
    request("PUT", "/push", b"{}"),
    request("POST", "/metrics/job/a/../../push", b'{"job": "dots", "event": "start"}'),
    request("POST", "/metrics/job/a//b", b"x 1\n", content_type="text/plain"),
    request("POST", "/metrics/job/a/%2e%2e/b", b"x 1\n", content_type="text/plain"),
    request("DELETE", "/metrics/job/a", content_type=None),
    request("GET", "/-/healthy", content_type=None),
    b"POST  /push HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\n\r\n",
]  # fmt: skip


@pytest.mark.parametrize("data", HANDED_OVER, ids=lambda data: repr(data[:70]))
async def test_what_is_not_a_plain_push_is_aiohttps_to_answer(pair: Pair, data: bytes) -> None:
    await pair.both(data)
    assert pair.door.answered == 0


MALFORMED = [
    request("POST", "/push", CHUNKED, *BOTH_LENGTHS),
    request("POST", "/push", b"{}", "Content-Length: 2", "Content-Length: 2"),
    request("POST", "/push", b"{}", "Content-Length: +2"),
    request("POST", "/push", b"{}", "X-Folded: a\r\n b"),
    request("POST", "/push", b"{}", "Bad Name: x"),
    request("POST", "/push", b"{}", "X-Nul: a\x00b"),
    b'POST /push HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 2\n\n{}',
]  # fmt: skip


async def test_a_bad_chunked_framing_is_refused_by_aiohttps_parser_in_json_behind_the_door(
    pair: Pair,
) -> None:
    # The front door hands a chunked request over; aiohttp's parser finds `{}` where a
    # chunk size belongs. Its protocol behind the door answers in JSON (handed_over.py),
    # its own without the door in its text.
    data = export(b"{}", JSON_MEDIA, "Transfer-Encoding: chunked")
    (front,) = await exchange(pair.front.port, data, 1)  # type: ignore[arg-type]
    (plain,) = await exchange(pair.plain.port, data, 1)  # type: ignore[arg-type]
    assert (front.status, plain.status) == (400, 400)
    assert json.loads(front.body)["details"] == [
        {"field": "request", "value": "{}", "reason": "invalid character in chunk size"}
    ]
    assert plain.body.startswith(b"Invalid character in chunk size")
    assert pair.door.answered == 0


@pytest.mark.parametrize("data", MALFORMED, ids=lambda data: repr(data[:70]))
async def test_what_aiohttp_would_refuse_the_front_door_refuses_as_json(
    pair: Pair, data: bytes
) -> None:
    # test_malformed_heads.py has the details; here, the twin: both refuse, in two shapes.
    (front,) = await exchange(pair.front.port, data, 1)  # type: ignore[arg-type]
    (plain,) = await exchange(pair.plain.port, data, 1)  # type: ignore[arg-type]
    assert (front.status, plain.status) == (400, 400)
    assert set(json.loads(front.body)) == {"error", "details"}
    assert ("Connection", "close") in front.fields
    assert pair.door.answered == 0


async def test_a_chunked_push_is_taken_by_aiohttp(pair: Pair) -> None:
    (answer,) = await pair.both(request("POST", "/push", CHUNKED, "Transfer-Encoding: chunked"))
    assert json.loads(answer.body)["run_ids"] == ["r9"]
    assert pair.door.answered == 0


async def test_expect_100_continue_is_aiohttps(pair: Pair) -> None:
    body = json.dumps({"job": "expecting", "event": "start", "run_id": "r7"}).encode()
    data = request("POST", "/push", body, "Expect: 100-continue")
    for port in (pair.front.port, pair.plain.port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data.removesuffix(body))
        assert await asyncio.wait_for(reader.readline(), 10) == b"HTTP/1.1 100 Continue\r\n"
        assert await reader.readline() == b"\r\n"
        writer.write(body)
        assert (await asyncio.wait_for(read_answer(reader), 10)).status == 200
        writer.close()
    assert pair.door.answered == 0


async def test_pipelined_requests_are_answered_in_order_across_a_hand_over(pair: Pair) -> None:
    starts = [push({"job": "piped", "event": "start", "run_id": f"p{n}"}) for n in range(3)]
    get = b"GET /jobs/piped/runs HTTP/1.1\r\n" + HOST + b"\r\n"
    after = push({"job": "piped", "event": "start", "run_id": "p3"})
    answers = await pair.both(b"".join([*starts, get, after]), answers=5)
    assert [json.loads(a.body).get("run_ids") for a in answers[:3]] == [["p0"], ["p1"], ["p2"]]
    runs = json.loads(answers[3].body)["runs"]
    assert sorted(run["run_id"] for run in runs) == ["p0", "p1", "p2"]
    assert json.loads(answers[4].body)["run_ids"] == ["p3"]
    assert pair.door.answered == 3  # the last push came after the hand-over: aiohttp's


async def test_a_connection_carries_many_pushes_and_closes_when_asked(pair: Pair) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.front.port)
    for n in range(5):
        writer.write(push({"job": "kept_alive", "event": "start", "run_id": f"k{n}"}))
        answer = await asyncio.wait_for(read_answer(reader), 10)
        assert json.loads(answer.body)["run_ids"] == [f"k{n}"]
        assert ("Connection", "close") not in answer.fields
    writer.write(push({"job": "kept_alive", "event": "start", "run_id": "k5"},
                      fields=("Connection: close",)))  # fmt: skip
    answer = await asyncio.wait_for(read_answer(reader), 10)
    assert ("Connection", "close") in answer.fields
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    assert pair.door.answered == 6


async def test_a_push_arriving_in_pieces_is_answered_once_whole(pair: Pair) -> None:
    data = push({"job": "slowly", "event": "start", "run_id": "s1"})
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.front.port)
    for piece in (data[:7], data[7:40], data[40:-5], data[-5:]):
        writer.write(piece)
        await writer.drain()
    answer = await asyncio.wait_for(read_answer(reader), 10)
    assert json.loads(answer.body)["run_ids"] == ["s1"]
    writer.close()


async def test_an_idle_connection_is_closed_after_the_keepalive_timeout(
    settings: Settings, clock: Clock
) -> None:
    server = Server(create_app(settings, clock=clock), keepalive_timeout=0.2)
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(push({"job": "idle", "event": "start", "run_id": "i1"}))
        assert (await asyncio.wait_for(read_answer(reader), 10)).status == 200
        assert await asyncio.wait_for(reader.read(), 10) == b""
    finally:
        await server.close()


def _token(name: str, role: str, secret: str, jobs: tuple[str, ...] = ("*",)) -> Token:
    return Token(name, role, hashlib.sha256(secret.encode()).hexdigest(), jobs)


async def test_pushes_are_authenticated_as_aiohttp_authenticates_them(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    tokens = (_token("pusher", PUSH, "p-secret", ("etl_*",)), _token("reader", READ, "r-secret"))
    basic = base64.b64encode(b"pusher:p-secret").decode()
    cases = [
        (push({"job": "etl_a", "event": "start", "run_id": "a1"}), 401),
        (push({"job": "etl_a", "event": "start", "run_id": "a2"},
              fields=("Authorization: Bearer wrong",)), 401),
        (push({"job": "etl_a", "event": "start", "run_id": "a3"},
              fields=("Authorization: Bearer r-secret",)), 403),
        (push({"job": "other", "event": "start", "run_id": "a4"},
              fields=("Authorization: Bearer p-secret",)), 403),
        (push({"job": "etl_a", "event": "start", "run_id": "a5"},
              fields=("Authorization: Bearer p-secret",)), 200),
        (group_push("job/etl_b", gauges("x 1"), "PUT", f"Authorization: Basic {basic}"), 200),
        (group_push("job/other", gauges("x 1"), "PUT", f"Authorization: Basic {basic}"), 403),
        (group_push("job/etl_b", gauges("x 1"), "PUT"), 401),
        (export(bodies.as_protobuf(bodies.request([bodies.gauge("g", 1.0)], service="etl_c")),
                PROTOBUF, "Authorization: Bearer p-secret"), 200),
        (export(bodies.as_protobuf(EXPORT), PROTOBUF, "Authorization: Bearer p-secret"), 403),
        (export(bodies.as_json(EXPORT), JSON_MEDIA, "Authorization: Bearer r-secret"), 403),
        (export(bodies.as_protobuf(EXPORT)), 401),
    ]  # fmt: skip
    async for secured in _pair(settings, clock, tokens=tokens):
        for data, status in cases:
            (answer,) = await secured.both(data)
            assert answer.status == status, answer
        assert secured.door.answered == len(cases)


async def test_a_push_in_flight_when_the_server_stops_is_answered_and_kept(
    settings: Settings, clock: Clock
) -> None:
    """The database is locked, so the push waits for its commit; the server is asked to
    stop meanwhile; once the lock goes, the push is answered 200 and is there after a
    restart."""
    settings = replace(settings, push_timeout=30.0)

    def server() -> Server:
        store = SqliteStore(settings.data_dir, busy_timeout=0.05)
        return Server(create_app(settings, clock=clock, store=store))

    front = server()
    await front.start_server()
    door = front.front_door
    assert door is not None
    blocker = sqlite3.connect(settings.data_dir / DATABASE_FILE, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
    writer.write(push({"job": "stopping", "event": "start", "run_id": "in-flight"}))

    async def in_flight() -> bool:
        return any(d.answering is not None for d in door.doors)

    await until(in_flight)
    stopping = asyncio.create_task(front.close())

    async def refused() -> bool:
        try:
            _, probe = await asyncio.open_connection("127.0.0.1", front.port)
        except OSError:
            return True
        probe.close()
        return False

    await until(refused)  # no longer listening: the stop is under way
    blocker.execute("ROLLBACK")
    blocker.close()
    answer = await asyncio.wait_for(read_answer(reader), 30)
    assert answer.status == 200
    assert json.loads(answer.body)["run_ids"] == ["in-flight"]
    await asyncio.wait_for(stopping, 30)
    writer.close()

    restarted = server()
    await restarted.start_server()
    try:
        assert restarted.port is not None
        (run,) = await exchange(
            restarted.port, b"GET /runs/in-flight HTTP/1.1\r\n" + HOST + b"\r\n"
        )
        assert run.status == 200
        assert json.loads(run.body)["status"] == "running"
    finally:
        await restarted.close()


async def test_under_a_route_prefix_the_pushes_there_are_the_front_doors(
    settings: Settings, clock: Clock
) -> None:
    answered = [
        request("POST", "/pgw/push", b'{"job": "prefixed", "event": "start", "run_id": "p"}'),
        group_push("job/prefixed", gauges("g 5"), "PUT").replace(b"/metrics/", b"/pgw/metrics/"),
        export(bodies.as_protobuf(EXPORT), target="/pgw/v1/metrics"),
    ]
    not_there = [
        request("POST", "/push", b'{"job": "unprefixed", "event": "start", "run_id": "u"}'),
        group_push("job/unprefixed", gauges("g 5"), "PUT"),
        export(bodies.as_protobuf(EXPORT)),
    ]
    async for prefixed in _pair(settings, clock, route_prefix="/pgw"):
        for data in answered:
            (answer,) = await prefixed.both(data)
            assert answer.status == 200, answer
        for data in not_there:
            (answer,) = await prefixed.both(data)
            assert answer.status == 404, answer
        assert prefixed.door.answered == len(answered)


async def test_a_connection_handed_over_is_aiohttps_with_every_server_argument(
    settings: Settings, clock: Clock
) -> None:
    """The runner's arguments reach aiohttp's protocol: handler_cancellation (TestServer's),
    and here a limit on header fields that the first request keeps under and the second
    does not."""
    server = Server(create_app(settings, clock=clock), max_field_size=100)
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /-/healthy HTTP/1.1\r\n" + HOST + b"\r\n")
        assert (await asyncio.wait_for(read_answer(reader), 10)).status == 200
        assert server.runner is not None
        aiohttp = server.runner.server
        assert aiohttp is not None
        assert len(aiohttp.connections) == 1  # aiohttp's own server made its protocol
        assert aiohttp.handler_cancellation is True
        writer.write(b"GET /-/healthy HTTP/1.1\r\n" + HOST + b"X-Long: " + b"x" * 200 + b"\r\n\r\n")
        assert (await asyncio.wait_for(read_answer(reader), 10)).status == 400
        writer.close()
    finally:
        await server.close()
