"""The Pushgateway's own API with its exact semantics: PUT/POST/DELETE of a group,
`GET /api/v1/metrics`, `GET /api/v1/status`, `PUT /api/v1/admin/wipe`. Answers are as the
Pushgateway's: plain-text errors with its messages, 200 for a checked push, 202 for a
delete or a wipe. Also `GET /groups/history` (batchgate's own): groups that went away."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from batchgate.collector import __version__
from batchgate.collector.core.api_json import rfc3339
from batchgate.collector.groups import key_text
from batchgate.collector.http.handlers import audit, query
from batchgate.collector.http.keys import GROUPS, INGEST, SETTINGS, STORE
from batchgate.collector.http.middlewares import identity
from batchgate.collector.ingest import Refused
from batchgate.collector.pushgateway import PushgatewayError, api_group, api_status, success

SLICE = 100
"""Groups rendered for GET /api/v1/metrics between two yields to the event loop."""


def _text(status: int, message: str) -> web.Response:
    """An answer as Go's http.Error writes it."""
    return web.Response(
        status=status, text=message + "\n", content_type="text/plain", charset="utf-8"
    )


def _grouping_path(request: web.Request) -> str:
    """The still percent-encoded path after `<prefix>/metrics/`, as the registry wants it."""
    raw = request.raw_path.split("?", 1)[0]
    return raw[len(request.app[SETTINGS].route_prefix) + len("/metrics/") :]


async def _accepted(request: web.Request) -> web.Response:
    """202 once the change is durable, as the Pushgateway answers a delete or a wipe."""
    refused = await request.app[INGEST].not_durable()
    return _text(503, refused) if refused else web.Response(status=202)


async def push(request: web.Request) -> web.Response:
    """PUT replaces the group; POST replaces the families of the same names."""
    status, message = await request.app[INGEST].push_group(
        identity(request),
        request.method,
        _grouping_path(request),
        await request.read(),
        request.headers.get("Content-Type"),
        request.headers.get("Content-Encoding") == "gzip",
    )
    return _text(status, message) if message else web.Response(status=status)


async def delete(request: web.Request) -> web.Response:
    """Remove exactly this grouping key; 202 whether or not it existed."""
    try:
        deleted = request.app[INGEST].delete_group(identity(request), _grouping_path(request))
    except PushgatewayError as error:
        return _text(error.status, error.message)
    except Refused as denied:
        return _text(denied.status, denied.message)
    if deleted is not None:
        audit.record(request, "pushgateway.delete", key_text(deleted))
    return await _accepted(request)


async def wipe(request: web.Request) -> web.Response:
    wiped = request.app[INGEST].wipe_groups()
    audit.record(request, "pushgateway.wipe", "every group", groups=wiped)
    return await _accepted(request)


async def api_metrics(request: web.Request) -> web.Response:
    """Every group in the Pushgateway's JSON, built in slices so big stores do not stall."""
    registry = request.app[GROUPS].registry
    keys = sorted(summary.key for summary in registry.groups())
    data = []
    for position, key in enumerate(keys, start=1):
        group = api_group(registry, key)
        if group is not None:  # pushes go on between slices: a group may have gone
            data.append(group)
        if position % SLICE == 0:
            await asyncio.sleep(0)
    return web.Response(text=success(data), content_type="application/json")


async def api_status_handler(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    flags = {
        "web.listen-address": settings.listen,
        "web.route-prefix": settings.route_prefix,
        "push.expire-after": str(settings.pushgateway.expire_after or 0),
        "data-dir": str(settings.data_dir),
        "persistence": "sqlite (every acknowledged push is durable)",
    }
    build = {"version": __version__, "name": "batchgate"}
    started = request.app[GROUPS].started_at
    return web.Response(
        text=success(api_status(flags, build, started)), content_type="application/json"
    )


async def history(request: web.Request) -> web.Response:
    """Groups that went away (expired, deleted, wiped), newest first."""
    limit = query.integer(request, "limit", 100, 1, 1000)
    records = await request.app[STORE].group_history(limit)
    return web.json_response(
        {
            "events": [
                {
                    "at": rfc3339(record.at),
                    "event": record.event,
                    "grouping_key": json.loads(record.labels),
                    "last_push_at": rfc3339(record.last_push_at),
                    "series": record.series,
                }
                for record in records
            ]
        }
    )
