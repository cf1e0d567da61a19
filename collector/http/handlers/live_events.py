"""`GET /events`: every state change as Server-Sent Events, as it happens."""

from __future__ import annotations

import asyncio
import fnmatch
import re

from aiohttp import web
from aiohttp.http import HttpVersion11

from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.keys import BUS, SETTINGS


async def events(request: web.Request) -> web.StreamResponse:
    """Optional filters: `job` (a name glob) and `types` (comma-separated event types); a
    client that reconnects is given what it missed (see `_last_event_id`)."""
    bus = request.app[BUS]
    limit = request.app[SETTINGS].max_event_listeners
    if bus.subscribers >= limit:
        raise ApiError(
            429, f"{limit} clients already follow live events (limits.max_event_listeners)"
        )
    job_glob = request.query.get("job")
    job_matches = re.compile(fnmatch.translate(job_glob)).match if job_glob else None
    types = {t for t in request.query.get("types", "").split(",") if t}

    def accepts(event_type: str, job: str) -> bool:
        if types and event_type not in types:
            return False
        return job_matches is None or bool(job_matches(job))

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    chunked = request.version >= HttpVersion11
    if chunked:
        response.enable_chunked_encoding()
    await response.prepare(request)
    if request.method == "HEAD":  # the headers are the whole answer
        return response
    transport = request.transport
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
    except ConnectionResetError:
        transport = None
    if transport is None or transport.is_closing():  # hung up already
        return response
    subscription = bus.subscribe(
        SocketSink(transport, chunked),
        accepts if types or job_matches else None,
        after=_last_event_id(request),
    )
    try:
        await subscription.ended
    except asyncio.CancelledError:
        pass
    finally:
        bus.unsubscribe(subscription)
    return response


def _last_event_id(request: web.Request) -> int | None:
    """The id a reconnecting client saw last: EventSource's `Last-Event-ID` header, or the
    `last_event_id` parameter. One that is not an id of ours gets a `resync`."""
    seen = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if not seen:
        return None
    try:
        return int(seen)
    except ValueError:
        return -1


class SocketSink:
    """A listener's socket, written to by the bus directly. aiohttp has sent the headers
    and writes nothing more until the stream ends (its closing chunk), so the bus's writes
    only need the same chunked framing aiohttp's own writes would have had."""

    CONGESTED = 256 * 1024
    """Bytes still queued for the socket above which the listener is given no more for now."""

    def __init__(self, transport: asyncio.BaseTransport, chunked: bool) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self._transport = transport
        self._chunked = chunked

    @property
    def closed(self) -> bool:
        return self._transport.is_closing()

    @property
    def congested(self) -> bool:
        return self._transport.get_write_buffer_size() > self.CONGESTED

    def write(self, data: bytes) -> None:
        if self._chunked:
            self._transport.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
        else:
            self._transport.write(data)
