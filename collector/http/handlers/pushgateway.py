"""The Pushgateway's own API with its exact semantics: PUT/POST/DELETE of a group,
`GET /api/v1/metrics`, `GET /api/v1/status`, `PUT /api/v1/admin/wipe`. Answers are as the
Pushgateway's: plain-text errors with its messages, 200 for a checked push, 202 for a
delete or a wipe. Also `GET /groups/history` (batchgate's own): groups that went away."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from batchgate.collector import __version__
from batchgate.collector.alerting.lifecycle import evaluate_if_alerting
from batchgate.collector.auth import ANONYMOUS, Denied, Token, check_push
from batchgate.collector.core.api_json import rfc3339
from batchgate.collector.groups import key_text
from batchgate.collector.http.handlers import audit, query
from batchgate.collector.http.keys import CLOCK, GROUPS, REQUEST_METRICS, SETTINGS, STORE, WRITER
from batchgate.collector.http.middlewares import identity
from batchgate.collector.pushgateway import (
    InconsistentPushError,
    PushgatewayError,
    api_group,
    api_status,
    parse_grouping_key,
    success,
)
from batchgate.collector.storage.writer import StorageFailing

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


async def _not_durable(app: web.Application) -> str | None:
    """Wait until what is staged is durable: None, or why it is not (answered with a 503)."""
    try:
        await app[WRITER].durable()
    except StorageFailing as error:
        return f"{error}; retry later"
    return None


async def _accepted(request: web.Request) -> web.Response:
    """202 once the change is durable, as the Pushgateway answers a delete or a wipe."""
    refused = await _not_durable(request.app)
    return _text(503, refused) if refused else web.Response(status=202)


async def push(request: web.Request) -> web.Response:
    """PUT replaces the group; POST replaces the families of the same names."""
    status, message = await push_group(
        request.app,
        identity(request),
        request.method,
        _grouping_path(request),
        await request.read(),
        request.headers.get("Content-Type"),
        request.headers.get("Content-Encoding") == "gzip",
    )
    return _text(status, message) if message else web.Response(status=status)


async def push_group(
    app: web.Application,
    token: Token,
    method: str,
    path: str,
    body: bytes,
    content_type: str | None,
    gzipped: bool,
) -> tuple[int, str]:
    """A push of one group (`path`: the grouping key, still percent-encoded) applied and
    durable: the status to answer, and the message ("" on success). The handler and the
    front door (`collector.http.front_door`) both answer the Pushgateway's pushes with it."""
    started = time.perf_counter()
    writer, groups = app[WRITER], app[GROUPS]
    if not writer.accepting:
        reason = writer.error or "write queue full"
        return 503, f"storage is not accepting writes ({reason}); nothing was applied"
    registry = groups.registry
    limit = app[SETTINGS].max_groups
    try:
        # The registry reads the key itself; read it here too only when someone must be
        # checked or the group limit is reached, so an open push pays nothing for it.
        if token is not ANONYMOUS or len(registry) >= limit:
            key = parse_grouping_key(path)
            check_push(token, [dict(key)["job"]])
            if key not in registry and len(registry) >= limit:
                return (
                    429,
                    f"the limit of {limit} groups is reached (limits.max_groups); "
                    "delete groups or raise it",
                )
        result = registry.push(method, path, body, content_type, gzipped, app[CLOCK]())
    except Denied as denied:
        return denied.status, denied.message
    except InconsistentPushError as error:
        if error.group_changed and error.key is not None:
            groups.changed(error.key)  # its push_failure_time_seconds moved
        return error.status, error.message
    except PushgatewayError as error:
        return error.status, error.message
    job = groups.changed(result.key)
    if job is not None:
        evaluate_if_alerting(app, job, app[CLOCK]())
    refused = await _not_durable(app)
    if refused:
        return 503, refused
    app[REQUEST_METRICS].pushgateway_seconds.observe(time.perf_counter() - started)
    return 200, ""


async def delete(request: web.Request) -> web.Response:
    """Remove exactly this grouping key; 202 whether or not it existed."""
    try:
        key = parse_grouping_key(_grouping_path(request))
        check_push(identity(request), [dict(key)["job"]])
    except PushgatewayError as error:
        return _text(error.status, error.message)
    except Denied as denied:
        return _text(denied.status, denied.message)
    if request.app[GROUPS].delete(key, request.app[CLOCK]()):
        audit.record(request, "pushgateway.delete", key_text(key))
    return await _accepted(request)


async def wipe(request: web.Request) -> web.Response:
    wiped = request.app[GROUPS].wipe(request.app[CLOCK]())
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
