"""The audit log: who did which admin action to what, and when; `GET /audit` reads it."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from batchgate.collector.core.api_json import parse_time, rfc3339
from batchgate.collector.core.records import AuditRecord
from batchgate.collector.http.errors import field_error
from batchgate.collector.http.handlers import query
from batchgate.collector.http.keys import CLOCK, STORE, WRITER
from batchgate.collector.http.middlewares import identity


def record(request: web.Request, action: str, target: str, **details: Any) -> None:
    """Stage an audit entry for this request's identity; it commits with the action."""
    request.app[WRITER].stage_audit(
        AuditRecord(
            request.app[CLOCK](),
            identity(request).name,
            action,
            target,
            json.dumps(details, sort_keys=True) if details else None,
        )
    )


async def audit_log(request: web.Request) -> web.Response:
    """Admin actions, newest first; `before` (a time) pages back."""
    limit = query.integer(request, "limit", 100, 1, 1000)
    before = request.query.get("before")
    try:
        cutoff = parse_time(before) if before is not None else None
    except ValueError:
        raise field_error("before", "must be unix seconds or an RFC 3339 time") from None
    entries = await request.app[STORE].audit(limit, cutoff)
    return web.json_response(
        {
            "entries": [
                {
                    "at": rfc3339(entry.at),
                    "who": entry.who,
                    "action": entry.action,
                    "target": entry.target,
                    "details": json.loads(entry.details) if entry.details else {},
                }
                for entry in entries
            ]
        }
    )
