"""`GET /metrics`: every pushed group as the Pushgateway shows it, then batchgate's own
metrics, in the text format; or OpenMetrics by `Accept` when no group is stored (pushed
groups are kept as the text format they are served in, as the Pushgateway serves them)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest

from collector.keys import GROUPS, REGISTRY


async def metrics(request: web.Request) -> web.Response:
    groups = request.app[GROUPS].registry.render_text()
    registry = request.app[REGISTRY]
    if groups:
        body = groups.encode() + generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encoder(registry), headers={"Content-Type": content_type})
