"""The front door: the first reader of every connection, and the fast path for pushes.

Pushes are most of what batchgate serves, and aiohttp's machinery around a request (its
parser, request and response objects, a task per request, the middleware) costs about as
much per push as batchgate's own work on it (`bench/http_floor.py`). So each connection
is read here first. A plain push is answered here: `POST /push` with a JSON body, or the
Pushgateway's `PUT`/`POST` of a group, framed by a `Content-Length`, over HTTP/1.1. It goes
through the same ingest service as aiohttp's handlers (`Ingest.push_body`, `push_group`), the same
authentication, request metrics and access log, and gets the same answer, byte for byte
but the date.

Anything else hands the connection over to aiohttp for good, from the first byte of that
request on: another route or method, a query string, a body chunked, compressed or
expected (`Expect`), `Upgrade`, any header field given twice, HTTP/1.0, bytes in the head
outside what RFC 9110 allows, a head or body over the limits. The front door never
refuses a request itself: what it does not recognise is judged by aiohttp's parser, the
strict one, so the request-smuggling cases it refuses stay refused.

Requests on one connection are answered in order, one at a time (pipelined ones wait in
the buffer), as aiohttp does.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import re
import time
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.log import access_logger
from aiohttp.web_protocol import RequestHandler
from yarl import URL

from batchgate.collector.auth import ANONYMOUS, Token
from batchgate.collector.http.keys import AUTHENTICATOR, INGEST, REQUEST_METRICS, SETTINGS
from batchgate.collector.http.middlewares import authenticated, failure_response
from batchgate.collector.observability.logs import AccessLogger

log = logging.getLogger(__name__)

MAX_HEAD = 8190
"""Bytes of request line and header fields the front door reads (aiohttp's own limit for
a line); a longer head goes to aiohttp, which refuses it."""
KEEPALIVE_TIMEOUT = 75.0
"""Seconds an idle connection stays open, as aiohttp's default (its `keepalive_timeout`
sets both)."""
RECEIVE_BUFFER = 1 << 16
PAUSE_BUFFER = 1 << 20
"""Bytes of pipelined requests buffered beyond the largest body before reading pauses."""

# Header fields as RFC 9110 has them: a token, a colon, visible characters, spaces, tabs
# and obs-text; no obsolete line folding, no bare CR or LF, no NUL.
_FIELDS = re.compile(rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*")
# Fields that change how a body is read or what the connection becomes: aiohttp's.
_HANDED_OVER = frozenset({b"transfer-encoding", b"content-encoding", b"expect", b"upgrade"})
# Bytes in a Pushgateway path that aiohttp's router might read differently (dot segments,
# empty segments, a query or fragment): such a path goes to aiohttp.
_UNPLAIN_PATH = re.compile(rb"/\.|//|%2[eE]|[?#]|[^\x21-\x7e]")

PUSH = "push"
PUSHGATEWAY = "pushgateway_push"
"""The routes the front door answers, by their names in the route table."""


class FrontDoorRunner(web.AppRunner):
    """aiohttp's runner for an application, with the front door on its connections.
    Access lines are batchgate's (`collector.observability.logs.AccessLogger`), on both paths."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("access_log_class", AccessLogger)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts the application
        # The same server, with the arguments the application gave it (its handler_args).
        return FrontDoorServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            app=self.app,
            **plain._kwargs,
        )


class FrontDoorServer(web.Server):
    """aiohttp's server, whose connections the front door reads first."""

    def __init__(self, *args: Any, app: web.Application, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        settings = app[SETTINGS]
        prefix = settings.route_prefix.encode()
        self.push_target = prefix + b"/push"
        self.group_prefix = prefix + b"/metrics/job"  # job/ or job@base64/
        self.group_path_start = len(prefix) + len(b"/metrics/")
        self.max_body = settings.max_body_bytes
        self.keepalive_timeout: float = kwargs.get("keepalive_timeout", KEEPALIVE_TIMEOUT)
        self.doors: set[FrontDoor] = set()
        self.answered = 0
        """Requests the front door answered itself."""
        self.receiving = memoryview(bytearray(RECEIVE_BUFFER))
        access_log = kwargs.get("access_log", access_logger)  # aiohttp's default too
        access_class = kwargs.get("access_log_class")
        self.access_log = (
            AccessLogger(access_log, kwargs.get("access_log_format", ""))
            if access_log is not None and access_class is AccessLogger
            else None
        )
        self._date = (0, b"")

    def __call__(self) -> FrontDoor:  # type: ignore[override]
        return FrontDoor(self)

    def aiohttp_protocol(self) -> RequestHandler:
        """aiohttp's own protocol for one connection."""
        return super().__call__()

    def route(self, method: bytes, target: bytes) -> str | None:
        """The fast route of a request line, or None for aiohttp's."""
        if target == self.push_target:
            return PUSH if method == b"POST" else None
        if (
            method in (b"PUT", b"POST")
            and target.startswith(self.group_prefix)
            and _UNPLAIN_PATH.search(target) is None
        ):
            return PUSHGATEWAY
        return None

    async def answer(self, head: _Head, body: bytes) -> _Answer:
        """What the route's aiohttp handler would answer."""
        token = self.token(head.route, head.fields.get(b"authorization"))
        if head.route == PUSH:
            accepted = await self.app[INGEST].push_body(token, body, gzipped=False)
            return _Answer(200, JSON, json.dumps(accepted.as_json()).encode())
        status, message = await self.app[INGEST].push_group(
            token,
            head.method.decode(),
            head.target[self.group_path_start :].decode(),
            body,
            _text(head.fields.get(b"content-type")),
            gzipped=False,
        )
        if message:
            return _Answer(status, TEXT, (message + "\n").encode())
        return _Answer(status, (), b"")

    def token(self, route: str, authorization: bytes | None) -> Token:
        if not self.app[AUTHENTICATOR].enabled:
            return ANONYMOUS
        header = authorization.decode("latin-1") if authorization is not None else None
        return authenticated(self.app, route, header)

    def date(self) -> bytes:
        """The Date field's value, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True).encode())
        return self._date[1]

    def pre_shutdown(self) -> None:
        super().pre_shutdown()
        for door in list(self.doors):
            door.close_when_idle()

    async def shutdown(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 (aiohttp's)
        """Let the answers in flight finish (within `timeout`), then close."""
        answers = {door.answering for door in self.doors if door.answering is not None}
        if answers:
            await asyncio.wait(answers, timeout=timeout)
        for door in list(self.doors):
            door.abort()
        await super().shutdown(timeout)


class FrontDoor(asyncio.BufferedProtocol):
    """One connection while its requests are plain pushes (see the module's text)."""

    def __init__(self, server: FrontDoorServer) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._remote: str | None = None
        self._waiting: _Head | None = None
        """The request whose head is read and whose body is still arriving."""
        self.answering: asyncio.Task[None] | None = None
        self._closing = False
        self._write_paused = False
        self._read_paused = False
        self._last_heard = self._loop.time()
        self._idle: asyncio.TimerHandle | None = None

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport while it is the front door's (None once closed)."""
        return self._transport

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._remote = peer[0] if isinstance(peer, (list, tuple)) else None
        self._server.doors.add(self)
        self._idle = self._loop.call_at(
            self._last_heard + self._server.keepalive_timeout, self._check_idle
        )

    def get_buffer(self, sizehint: int) -> memoryview:
        # One buffer for every connection: the transport reads into it and hands it over
        # at once (no bytes object made per read, as for data_received()).
        return self._server.receiving

    def buffer_updated(self, nbytes: int) -> None:
        self._buffer += self._server.receiving[:nbytes]
        self._last_heard = self._loop.time()
        if self.answering is None and not self._write_paused:
            self._read_requests()
        self._pace_reading()

    def eof_received(self) -> None:
        # As aiohttp's protocol: the transport closes; an answer in flight still applies.
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._forget()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._pace_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._pace_reading()
        if self._transport is not None and self.answering is None and self._buffer:
            self._read_requests()

    # Reading

    def _pace_reading(self) -> None:
        """Read while the client takes its answers and the buffer has room; else leave the
        bytes in the kernel, and TCP makes the client wait (as aiohttp does)."""
        transport = self._transport
        if transport is None:
            return
        hold = self._write_paused or len(self._buffer) > self._server.max_body + PAUSE_BUFFER
        if hold != self._read_paused:
            if hold:
                transport.pause_reading()
            else:
                transport.resume_reading()
            self._read_paused = hold

    def _read_requests(self) -> None:
        """Answer the next complete request in the buffer, or hand the connection over."""
        head = self._waiting or self._next_head()
        if head is None:
            return
        if len(self._buffer) < head.end:
            self._waiting = head
            return
        self._waiting = None
        body = bytes(self._buffer[head.start : head.end])
        del self._buffer[: head.end]
        self.answering = self._loop.create_task(self._answer(head, body))

    def _next_head(self) -> _Head | None:
        """The next request's head if it is whole and plain; None while it is not whole,
        and after handing over a request that is not plain."""
        try:
            return _read_head(self._buffer, self._server)
        except _NotPlain:
            pass
        self._hand_over()  # outside the except block: aiohttp's errors are its own
        return None

    def _hand_over(self) -> None:
        """From the buffer's first byte on, the connection is aiohttp's."""
        transport = self._transport
        assert transport is not None
        self._forget()
        protocol = self._server.aiohttp_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._write_paused:
            protocol.pause_writing()
        if self._read_paused:
            transport.resume_reading()
        data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            protocol.data_received(data)

    # Answering

    async def _answer(self, head: _Head, body: bytes) -> None:
        started = time.perf_counter()
        server = self._server
        try:
            answer = await server.answer(head, body)
        except Exception as error:
            answer = _failure(error, head)
        size = self._write(answer, head.close)
        server.answered += 1
        server.app[REQUEST_METRICS].count_request(head.route, answer.status)
        if server.access_log is not None and server.access_log.enabled:
            server.access_log.log_request(
                head.method.decode(),
                _path(head.target),
                answer.status,
                size,
                time.perf_counter() - started,
                self._remote,
            )
        self.answering = None
        self._last_heard = self._loop.time()
        if head.close or self._closing:
            self.abort()
            return
        # Answers the client has not taken (pause_writing) hold the next request back.
        if self._buffer and not self._write_paused:
            self._read_requests()
        self._pace_reading()

    def _write(self, answer: _Answer, close: bool) -> int:
        """Write the answer as aiohttp would; the bytes written."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return 0
        lines = [_status_line(answer.status)]
        for name, value in answer.fields:
            lines.append(name + b": " + value + b"\r\n")
        lines.append(b"Content-Length: %d\r\n" % len(answer.body))
        lines.append(b"Date: " + self._server.date() + b"\r\n")
        lines.append(_SERVER)
        if close:
            lines.append(b"Connection: close\r\n")
        lines.append(b"\r\n")
        lines.append(answer.body)
        data = b"".join(lines)
        transport.write(data)
        return len(data)

    # Closing

    def close_when_idle(self) -> None:
        """Close now if no answer is in flight, else once it is written."""
        self._closing = True
        if self.answering is None:
            self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._forget()

    def _check_idle(self) -> None:
        if self._transport is None:
            return
        quiet_until = self._last_heard + self._server.keepalive_timeout
        # Requests held back until the client takes its answers are not idleness.
        busy = self.answering is not None or self._write_paused
        if not busy and self._loop.time() >= quiet_until:
            self.abort()
        else:
            self._idle = self._loop.call_at(
                max(quiet_until, self._loop.time() + 1.0), self._check_idle
            )

    def _forget(self) -> None:
        """The connection is no longer the front door's (closed, or aiohttp's now)."""
        self._server.doors.discard(self)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._transport = None


_SERVER = b"Server: " + SERVER_SOFTWARE.encode() + b"\r\n"
JSON = ((b"Content-Type", b"application/json; charset=utf-8"),)
TEXT = ((b"Content-Type", b"text/plain; charset=utf-8"),)
"""The header fields of aiohttp's answers with a body: json_response's, a text's."""


class _NotPlain(Exception):
    """The request is not one the front door answers: aiohttp's, from now on."""


class _Head(NamedTuple):
    route: str
    method: bytes
    target: bytes
    fields: dict[bytes, bytes]
    close: bool
    start: int
    """Where the body starts in the buffer, and where it ends."""
    end: int


def _read_head(buffer: bytearray, server: FrontDoorServer) -> _Head | None:
    """The head of the buffer's first request, once complete (None before); _NotPlain
    unless it is a plain push (see the module's text)."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if end < 0:
        if len(buffer) > MAX_HEAD or buffer.count(b"\n") != buffer.count(b"\r\n"):
            raise _NotPlain  # too long, or lines ended by a bare LF: it would never end
        return None
    line_end = buffer.find(b"\r\n")
    parts = bytes(buffer[:line_end]).split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1":
        raise _NotPlain
    method, target, _ = parts
    route = server.route(method, target)
    if route is None or _FIELDS.fullmatch(buffer, line_end + 2, end + 2) is None:
        raise _NotPlain
    fields: dict[bytes, bytes] = {}
    raw_fields = bytes(buffer[line_end + 2 : end])
    for field in raw_fields.split(b"\r\n") if raw_fields else ():
        name, _, value = field.partition(b":")
        name = name.lower()
        if name in fields:
            raise _NotPlain
        fields[name] = value.strip(b" \t")
    if not _HANDED_OVER.isdisjoint(fields):
        raise _NotPlain
    length = fields.get(b"content-length", b"")
    if not length.isdigit() or int(length) > server.max_body:
        raise _NotPlain
    close = False
    connection = fields.get(b"connection")
    if connection is not None:
        connection = connection.lower()
        if connection == b"close":
            close = True
        elif connection != b"keep-alive":
            raise _NotPlain
    if route == PUSH and not _is_json(fields.get(b"content-type")):
        raise _NotPlain  # aiohttp's handler answers 415
    start = end + 4
    return _Head(route, method, target, fields, close, start, start + int(length))


class _Answer(NamedTuple):
    status: int
    fields: tuple[tuple[bytes, bytes], ...]
    """Header fields, in order, but those every answer has (Content-Length, Date, Server)."""
    body: bytes


def _failure(error: Exception, head: _Head) -> _Answer:
    """The answer to an exception, as the middleware gives it."""
    response = failure_response(error, head.method.decode(), head.target.decode())
    assert isinstance(response.body, bytes)
    fields = tuple((name.encode(), value.encode()) for name, value in response.headers.items())
    return _Answer(response.status, fields, response.body)


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())


def _path(target: bytes) -> str:
    """The path as aiohttp's `request.path` gives it (percent-decoded)."""
    if b"%" not in target:
        return target.decode()
    return URL.build(path=target.decode(), encoded=True).path


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _is_json(content_type: bytes | None) -> bool:
    return (
        content_type is not None
        and content_type.partition(b";")[0].strip().lower() == b"application/json"
    )
