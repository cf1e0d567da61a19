"""`GET /events`: every state change as Server-Sent Events, as it happens."""

from __future__ import annotations

import asyncio
import fnmatch
import re

from aiohttp import web

from collector.errors import ApiError
from collector.keys import BUS, SETTINGS


async def events(request: web.Request) -> web.StreamResponse:
    """Optional filters: `job` (a name glob) and `types` (comma-separated event types)."""
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
    await response.prepare(request)
    subscription = bus.subscribe(accepts if types or job_matches else None)
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
        while True:
            batch = await subscription.next_batch()
            if batch is None:
                break
            await response.write(batch or b": keepalive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        bus.unsubscribe(subscription)
    return response
