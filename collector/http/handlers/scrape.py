"""`GET /metrics`: every pushed group as the Pushgateway shows it, each job's
`batchgate_job_*`, then batchgate's own metrics. In the text format, or OpenMetrics by
`Accept` when no group is stored (pushed groups are kept as the text format they are
served in, as the Pushgateway serves them)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest

from batchgate.collector.http.keys import (
    CLOCK,
    GROUPS,
    JOB_EXPOSITION,
    REGISTRY,
    SETTINGS,
    STATE,
)

OPENMETRICS_TYPE = "application/openmetrics-text"


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    groups = app[GROUPS].registry.render_text()
    encoder: Callable[[CollectorRegistry], bytes]
    if groups:
        encoder, content_type = generate_latest, CONTENT_TYPE_LATEST
    else:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    openmetrics = content_type.startswith(OPENMETRICS_TYPE)
    max_metrics = app[SETTINGS].limits.max_metrics
    jobs = await app[JOB_EXPOSITION].render(app[STATE], app[CLOCK](), openmetrics, max_metrics)
    body = groups.encode() + jobs + encoder(app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": content_type})
