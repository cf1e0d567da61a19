"""`GET /metrics`: every registered collector, in text format or OpenMetrics by Accept."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from collector.keys import REGISTRY


async def metrics(request: web.Request) -> web.Response:
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": content_type})
