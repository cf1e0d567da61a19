"""`GET /alerts`: pending, firing and recently resolved alerts, with filters; and
`GET /alerts/history`: every alert that fired, from the store."""

from __future__ import annotations

import fnmatch
import re
from typing import Final

from aiohttp import web

from batchgate.collector.alerting.api_json import alert_event_json, alert_json
from batchgate.collector.core.api_json import encode_cursor
from batchgate.collector.http.errors import field_error
from batchgate.collector.http.handlers import query
from batchgate.collector.http.keys import ALERTING, STORE
from batchgate.rules import Alert
from batchgate.rules.alerts import ALERT_STATES

_ORDER: Final = {"firing": 0, "pending": 1, "resolved": 2}


def _choices(request: web.Request, name: str, allowed: tuple[str, ...] | None) -> set[str] | None:
    """A comma-separated (or repeated) parameter; None when absent."""
    raw = request.query.getall(name, [])
    if not raw:
        return None
    chosen = {value for item in raw for value in item.split(",") if value}
    if allowed is not None:
        for value in sorted(chosen):
            if value not in allowed:
                raise field_error(name, f"{value!r} is not one of {', '.join(allowed)}")
    return chosen


def _flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise field_error(name, "must be true or false")
    return raw == "true"


def _recency(alert: Alert) -> float:
    return alert.resolved_at or alert.fired_at or alert.active_at


async def list_alerts(request: web.Request) -> web.Response:
    """Firing, then pending, then recently resolved alerts, the most recent first in each.

    Filters: `state`, `alertname` and `severity` (comma-separated lists), `job` (a glob on
    the job name), `label=name=value` (repeatable, on the alert's labels), `silenced`,
    `inhibited`."""
    states = _choices(request, "state", ALERT_STATES)
    names = _choices(request, "alertname", None)
    severities = _choices(request, "severity", None)
    pattern = request.query.get("job")
    job_matches = re.compile(fnmatch.translate(pattern)).match if pattern else None
    labels = query.labels(request)
    silenced = _flag(request, "silenced")
    inhibited = _flag(request, "inhibited")
    chosen = [
        alert
        for alert in request.app[ALERTING].engine.alerts
        if (states is None or alert.state in states)
        and (names is None or alert.rule in names)
        and (severities is None or alert.severity in severities)
        and (job_matches is None or job_matches(alert.job_name))
        and all(alert.labels.get(name) == value for name, value in labels.items())
        and (silenced is None or bool(alert.silenced_by) == silenced)
        and (inhibited is None or bool(alert.inhibited_by) == inhibited)
    ]
    chosen.sort(key=lambda alert: (_ORDER[alert.state], -_recency(alert), alert.rule, alert.id))
    return web.json_response({"alerts": [alert_json(alert.to_dict()) for alert in chosen]})


async def alert_history(request: web.Request) -> web.Response:
    """Alerts that fired, changed severity or resolved, newest first, kept as long as runs
    are. Filters: `job` and `alertname` (exact names), `since` and `until`; `limit` and
    the `next` cursor page through it."""
    job = request.query.get("job") or None
    rule = request.query.get("alertname") or None
    since = query.timestamp(request, "since")
    until = query.timestamp(request, "until")
    limit = query.integer(request, "limit", 100, 1, 1000)
    cursor = query.cursor(request, (int, float), int)
    before = None
    if cursor is not None:
        at, row_id = cursor
        assert isinstance(at, int | float)  # query.cursor checked them
        assert isinstance(row_id, int)
        before = (float(at), row_id)
    rows = await request.app[STORE].alert_history(job, rule, since, until, before, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows.pop()
        last_id, last = rows[-1]
        next_cursor = encode_cursor(last.at, last_id)
    return web.json_response(
        {"events": [alert_event_json(row_id, event) for row_id, event in rows], "next": next_cursor}
    )
