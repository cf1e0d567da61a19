"""`POST /push`: job lifecycle events in JSON, acknowledged once durable."""

from __future__ import annotations

from aiohttp import web

from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.keys import INGEST
from batchgate.collector.http.middlewares import identity


async def push_events(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        raise ApiError(
            415,
            f"Content-Type must be application/json, not {request.content_type}",
            [{"field": "Content-Type", "reason": "must be application/json"}],
        )
    gzipped = request.headers.get("Content-Encoding", "").lower() == "gzip"
    accepted = await request.app[INGEST].push_body(identity(request), await request.read(), gzipped)
    return web.json_response(accepted.as_json())
