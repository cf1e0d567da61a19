"""`GET /alerts`: pending, firing and recently resolved alerts, with filters."""

from __future__ import annotations

import fnmatch
import re
from typing import Final

from aiohttp import web

from collector.alerting.api_json import alert_json
from collector.errors import field_error
from collector.handlers import query
from collector.keys import ALERTING
from rules import Alert
from rules.alerts import ALERT_STATES

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


def _silenced(request: web.Request) -> bool | None:
    raw = request.query.get("silenced")
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise field_error("silenced", "must be true or false")
    return raw == "true"


def _recency(alert: Alert) -> float:
    return alert.resolved_at or alert.fired_at or alert.active_at


async def list_alerts(request: web.Request) -> web.Response:
    """Firing, then pending, then recently resolved alerts, the most recent first in each.

    Filters: `state`, `alertname` and `severity` (comma-separated lists), `job` (a glob on
    the job name), `label=name=value` (repeatable, on the alert's labels), `silenced`."""
    states = _choices(request, "state", ALERT_STATES)
    names = _choices(request, "alertname", None)
    severities = _choices(request, "severity", None)
    pattern = request.query.get("job")
    job_matches = re.compile(fnmatch.translate(pattern)).match if pattern else None
    labels = query.labels(request)
    silenced = _silenced(request)
    chosen = [
        alert
        for alert in request.app[ALERTING].engine.alerts
        if (states is None or alert.state in states)
        and (names is None or alert.rule in names)
        and (severities is None or alert.severity in severities)
        and (job_matches is None or job_matches(alert.job_name))
        and all(alert.labels.get(name) == value for name, value in labels.items())
        and (silenced is None or bool(alert.silenced_by) == silenced)
    ]
    chosen.sort(key=lambda alert: (_ORDER[alert.state], -_recency(alert), alert.rule, alert.id))
    return web.json_response({"alerts": [alert_json(alert.to_dict()) for alert in chosen]})
