"""The front door: the first reader of every connection, and the fast path for pushes.

aiohttp's machinery around a request costs about as much per push as batchgate's own work
on it (`bench/http_floor.py`; figures in docs/benchmarks.md), and pushes are most of what
batchgate serves. So `FrontDoorSite` reads each connection first and answers a plain push
(`plain_push.py`) itself, through the same ingest service, authentication, error answers,
request metrics and access log as aiohttp's path (`check_wrapping` holds the two to the
same middlewares), with the same bytes but the date. Anything else hands the connection,
from that request's first byte, to aiohttp's own protocol for good. Requests on one
connection are answered in order, one at a time, and a client that does not take its
answers is not read, as with aiohttp. Built on aiohttp's public API only (a `BaseSite`,
`runner.server`, and aiohttp's `RequestHandler` as the protocol of a connection handed
over, answering aiohttp's refusals in JSON: `handed_over.py`); `http.fast_path: false`
turns it off.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import ssl
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final

from aiohttp import web
from yarl import URL

from batchgate.collector.auth import ANONYMOUS, Token
from batchgate.collector.http.errors import error_response
from batchgate.collector.http.handed_over import HANDLER_ARGUMENTS, RequestHandler
from batchgate.collector.http.handlers import otlp
from batchgate.collector.http.keys import AUTHENTICATOR, INGEST, REQUEST_METRICS, SETTINGS
from batchgate.collector.http.malformed_heads import (
    MAX_HEADERS,
    HeadMalformed,
    HeadRefused,
    check_head,
)
from batchgate.collector.http.middlewares import (
    authenticate,
    authenticated,
    errors_and_metrics,
    failure_response,
    request_middlewares,
)
from batchgate.collector.http.plain_push import (
    JSON,
    MAX_REQUEST_LINE,
    OTLP,
    PUSH,
    TEXT,
    Answer,
    Head,
    HeadTooLong,
    NotPlain,
    Routes,
    answer_bytes,
    field_text,
    logged_path,
    read_head,
)
from batchgate.collector.observability.logs import AccessLogger

KEEPALIVE_TIMEOUT = 75.0
"""Seconds an idle connection stays open, on both paths (aiohttp's own default is not the
same in every version)."""
SHUTDOWN_TIMEOUT = 60.0
"""Seconds the answers in flight get once the server stops (aiohttp's runner's default)."""
RECEIVE_BUFFER = 1 << 16
LINGER_SECONDS = 0.5
LINGER_BYTES = 1 << 18
"""After refusing a head: how long, and how many bytes, the rest of the request is read
and dropped before the connection closes."""
PAUSE_BUFFER = 1 << 20
"""Bytes of pipelined requests buffered beyond the largest body before reading pauses."""

APPLIED_MIDDLEWARES: Final = frozenset({errors_and_metrics, authenticate})
"""The middlewares whose work the front door does itself for the pushes it answers:
`errors_and_metrics` (`_failure` and `count_request` in `FrontDoor._answer`) and
`authenticate` (`FrontDoorServer.token`)."""
_RUNNER_ARGUMENTS: Final = frozenset({"handle_signals", "shutdown_timeout", "handler_cancellation"})
"""The runner's arguments that are not its connections' (aiohttp's `RequestHandler`'s)."""


class FrontDoorRunner(web.AppRunner):
    """aiohttp's runner for the app, for either site (`FrontDoorSite` or aiohttp's own):
    batchgate's access lines (`AccessLogger`) and keep-alive timeout on both paths, and
    the server arguments kept (`arguments`) for the front door to read."""

    def __init__(self, app: web.Application, **arguments: Any) -> None:
        arguments.setdefault("access_log_class", AccessLogger)
        arguments.setdefault("keepalive_timeout", KEEPALIVE_TIMEOUT)
        arguments.setdefault("max_line_size", MAX_REQUEST_LINE)
        arguments.setdefault("max_headers", MAX_HEADERS)
        arguments.setdefault("shutdown_timeout", SHUTDOWN_TIMEOUT)
        super().__init__(app, **arguments)
        self.arguments: Mapping[str, Any] = MappingProxyType(arguments)


class FrontDoorSite(web.BaseSite):
    """aiohttp's TCP site, with the front door reading each connection first."""

    def __init__(
        self,
        runner: FrontDoorRunner,
        host: str | None = None,
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        assert runner.server is not None  # BaseSite's check: the runner is set up
        self.front_door = FrontDoorServer(runner.app, runner.server, runner.arguments)
        self._host = host
        self._port = port
        self._tls = ssl_context
        self._backlog_size = backlog
        self._reuse = (reuse_address, reuse_port)
        self._listener: asyncio.Server | None = None
        self._shutdown_timeout: float = runner.arguments["shutdown_timeout"]

    @property
    def name(self) -> str:
        scheme = "https" if self._tls else "http"
        return str(URL.build(scheme=scheme, host=self._host or "0.0.0.0", port=self.port))

    @property
    def port(self) -> int:
        """The port listened on (the one chosen for port 0 once started)."""
        if self._listener is not None and self._listener.sockets:
            return int(self._listener.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        await super().start()  # registered with the runner, whose cleanup stops the site
        self._listener = await asyncio.get_running_loop().create_server(
            self.front_door.connection,
            self._host,
            self._port,
            ssl=self._tls,
            backlog=self._backlog_size,
            reuse_address=self._reuse[0],
            reuse_port=self._reuse[1],
        )

    async def stop(self) -> None:
        """Stop listening, let the answers in flight be written (within the runner's
        shutdown timeout) and close the front door's connections; those handed over are
        aiohttp's to close, after this."""
        if self._listener is not None:
            self._listener.close()
        await self.front_door.close(self._shutdown_timeout)
        await super().stop()


def check_wrapping(app: web.Application) -> None:
    """RuntimeError unless the front door wraps a push as the app wraps a request: the
    app's middlewares those `request_middlewares` declares, each one the front door
    applies (APPLIED_MIDDLEWARES), and no `on_response_prepare` hook (the front door
    writes its answers itself: a hook would not see them)."""
    declared = request_middlewares(app[AUTHENTICATOR])
    problems = []
    if list(app.middlewares) != declared:
        problems.append(
            f"the app's middlewares ({_names(app.middlewares)}) are not those "
            f"middlewares.request_middlewares declares ({_names(declared)})"
        )
    not_applied = [middleware for middleware in declared if middleware not in APPLIED_MIDDLEWARES]
    if not_applied:
        problems.append(f"the front door does not apply {_names(not_applied)}")
    if app.on_response_prepare:
        problems.append(f"on_response_prepare hooks ({_names(app.on_response_prepare)})")
    if problems:
        raise RuntimeError(
            "the front door would not answer pushes as the app does: "
            + "; ".join(problems)
            + " (teach collector/http/front_door.py, or serve with http.fast_path: false)"
        )


def _names(functions: Iterable[Any]) -> str:
    return ", ".join(getattr(f, "__qualname__", repr(f)) for f in functions) or "none"


class FrontDoorServer:
    """What the front door's connections on one site share: the app, aiohttp's server for
    the connections handed over, the routes, the access log."""

    def __init__(
        self, app: web.Application, aiohttp: web.Server, arguments: Mapping[str, Any]
    ) -> None:
        check_wrapping(app)
        self.app = app
        self.aiohttp = aiohttp
        """aiohttp's server: it keeps the connections handed over."""
        self._handler_arguments = {
            **{name: value for name, value in arguments.items() if name not in _RUNNER_ARGUMENTS},
            **HANDLER_ARGUMENTS,
        }
        settings = app[SETTINGS]
        self.routes = Routes(settings.route_prefix)
        self.max_body = settings.max_body_bytes
        self.keepalive_timeout: float = arguments["keepalive_timeout"]
        self.max_headers: int = arguments["max_headers"]
        self.doors: set[FrontDoor] = set()
        """The connections the front door reads (not those handed over to aiohttp)."""
        self.answered = 0
        """Requests the front door answered itself."""
        self.receiving = memoryview(bytearray(RECEIVE_BUFFER))
        self.access_log = _access_log(arguments)
        self._date = (0, b"")

    def connection(self) -> FrontDoor:
        """The protocol for a new connection: the front door's, until it hands over."""
        return FrontDoor(self)

    def handed_over(self) -> RequestHandler:
        """The protocol for a connection handed over: aiohttp's, as its server makes it,
        but answering aiohttp's own refusals in batchgate's shape (`handed_over.py`)."""
        loop = asyncio.get_running_loop()
        return RequestHandler(self.aiohttp, loop=loop, **self._handler_arguments)

    async def answer(self, head: Head, body: bytes) -> Answer:
        """What the route's aiohttp handler would answer."""
        token = self.token(head.route, head.fields.get(b"authorization"))
        if head.route == PUSH:
            accepted = await self.app[INGEST].push_body(token, body, gzipped=False)
            return Answer(200, JSON, json.dumps(accepted.as_json()).encode())
        if head.route == OTLP:
            exported = await otlp.export(
                self.app,
                token,
                field_text(head.fields.get(b"content-type")),
                field_text(head.fields.get(b"content-encoding")),
                body,
            )
            # aiohttp's order: the handler's header fields, then its Content-Type.
            fields = [
                (name.encode(), value.encode()) for name, value in (exported.headers or {}).items()
            ]
            fields.append((b"Content-Type", exported.media.encode()))
            return Answer(exported.status, tuple(fields), exported.body)
        status, message = await self.app[INGEST].push_group(
            token,
            head.method.decode(),
            self.routes.group_path(head),
            body,
            field_text(head.fields.get(b"content-type")),
            gzipped=False,
        )
        if message:
            return Answer(status, TEXT, (message + "\n").encode())
        return Answer(status, (), b"")

    def token(self, route: str, authorization: bytes | None) -> Token:
        """Who is pushing, as the `authenticate` middleware finds it."""
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

    async def close(self, timeout: float) -> None:  # noqa: ASYNC109 (the runner's timeout)
        """Close the idle connections now, the others once their answer is written, and
        within `timeout` in any case."""
        for door in list(self.doors):
            door.close_when_idle()
        answers = {door.answering for door in self.doors if door.answering is not None}
        if answers:
            await asyncio.wait(answers, timeout=timeout)
        for door in list(self.doors):
            door.abort()


def _access_log(arguments: Mapping[str, Any]) -> AccessLogger | None:
    """The access log the server arguments give aiohttp's protocol, for the front door's
    answers too; None when it is off."""
    logger = arguments.get("access_log", logging.getLogger("aiohttp.access"))  # aiohttp's
    if not logger:
        return None
    if arguments["access_log_class"] is not AccessLogger:
        raise RuntimeError("the front door writes batchgate's access lines (AccessLogger) only")
    return AccessLogger(logger, arguments.get("access_log_format", ""))


class FrontDoor(asyncio.BufferedProtocol):
    """One connection while its requests are plain pushes (see the module's text)."""

    def __init__(self, server: FrontDoorServer) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._remote: str | None = None
        self._waiting: Head | None = None
        """The request whose head is read and whose body is still arriving."""
        self.answering: asyncio.Task[None] | None = None
        self._closing = False
        self._discarding = 0
        """Bytes still to read and drop after refusing a head, before closing (0: none)."""
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
        if self._discarding:
            self._discarding = max(self._discarding - nbytes, 0)
            if not self._discarding:
                self.abort()
            return
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

    def _next_head(self) -> Head | None:
        """The next request's head if it is whole and plain; None while it is not whole,
        and after handing over a request that is not plain or refusing a head that aiohttp
        would refuse (too long, or malformed)."""
        refused: HeadRefused | None = None
        try:
            return read_head(self._buffer, self._server.routes.route, self._server.max_body)
        except NotPlain:
            # Only heads that are not plain pushes are checked: a plain push's head is
            # well formed by what makes it plain (plain_push.read_head).
            try:
                check_head(self._buffer, self._server.max_headers)
            except HeadMalformed as error:
                refused = error
        except HeadTooLong as error:
            refused = error
        # Outside the except block: aiohttp's errors are its own, and the buffer is free.
        if refused is not None:
            self._refuse(refused)
        else:
            self._hand_over()
        return None

    def _refuse(self, error: HeadRefused) -> None:
        """Answer a head aiohttp would refuse, as every error is answered (in plain text on
        the Pushgateway's routes, as Go's server answers the Pushgateway's), and close:
        what follows it in the connection cannot be told apart from it. Before closing,
        the rest the client is sending is read and dropped for a while (as Go's server
        does): closed with bytes unread, the socket would send a reset, which can reach
        the client before it has read the answer."""
        if self._server.routes.is_pushgateways(self._buffer):
            phrase = HTTPStatus(error.status).phrase
            answer = Answer(error.status, TEXT, f"{error.status} {phrase}: {error}".encode())
        else:
            answer = _answer_of(error_response(error.status, error.message, error.details))
        self._write(answer, close=True)
        self._server.app[REQUEST_METRICS].count_request("unmatched", answer.status)
        self._buffer.clear()
        transport = self._transport
        if transport is None or not transport.can_write_eof():
            self.abort()
            return
        transport.write_eof()
        self._discarding = LINGER_BYTES
        self._loop.call_later(LINGER_SECONDS, self.abort)

    def _hand_over(self) -> None:
        """From the buffer's first byte on, the connection is aiohttp's."""
        transport = self._transport
        assert transport is not None
        self._forget()
        protocol = self._server.handed_over()
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

    async def _answer(self, head: Head, body: bytes) -> None:
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
                logged_path(head.target),
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

    def _write(self, answer: Answer, close: bool) -> int:
        """Write the answer as aiohttp would; the bytes written."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return 0
        data = answer_bytes(answer, self._server.date(), close)
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


def _failure(error: Exception, head: Head) -> Answer:
    """The answer to an exception, as the `errors_and_metrics` middleware gives it."""
    return _answer_of(failure_response(error, head.method.decode(), head.target.decode()))


def _answer_of(response: web.Response) -> Answer:
    assert isinstance(response.body, bytes)
    fields = tuple((name.encode(), value.encode()) for name, value in response.headers.items())
    return Answer(response.status, fields, response.body)
