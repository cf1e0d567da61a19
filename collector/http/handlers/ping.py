"""`/ping/{job}`: a job's life in the URL, for a crontab or a shell with nothing but curl
(Healthchecks' ping API, in batchgate's words). `/ping/backup/start` when it starts, then
`/ping/backup` (success), `/ping/backup/fail`, or `/ping/backup/$?` (its exit status);
labels in the query string, a POSTed body as the run's message. A task queue's run:
`/ping/send-email/queued?rid=42&queue=emails`, then `start`, `retry`, ... with `attempt` and
`max_attempts`. Acknowledged once durable, as `POST /push` is."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.keys import INGEST
from batchgate.collector.http.middlewares import identity

EVENTS: Final = ("queued", "start", "retry", "success", "fail", "cancel")
RUN_ID: Final = ("rid", "run_id")
"""Query parameters naming the run (`rid` is Healthchecks' name); those and FIELDS aside,
every query parameter is a label."""
FIELDS: Final = ("queue", "attempt", "max_attempts")
"""Query parameters that are the push fields of the same names, not labels."""


async def ping(request: web.Request) -> web.Response:
    ingest = request.app[INGEST]
    ingest.refuse_unless_accepting()
    item: dict[str, Any] = {"job": request.match_info["job"]}
    item.update(_event(request.match_info.get("event", "success")))
    labels: dict[str, str] = {}
    for name, value in request.query.items():
        if name in RUN_ID:
            item["run_id"] = value
        elif name in FIELDS:
            # A number stays text when it is not one, for /push's validation to name it.
            item[name] = int(value) if name != "queue" and value.isdecimal() else value
        elif name in labels:
            raise _invalid(f"labels.{name}", "given twice")
        else:
            labels[name] = value
    if labels:
        item["labels"] = labels
    if request.method == "POST" and request.can_read_body:
        message = (await request.read()).decode("utf-8", "replace").strip()
        if message:
            item["message"] = message
    now = ingest.clock()
    accepted = await ingest.push_events(identity(request), ingest.parse_events(item, now), now)
    return web.Response(text="OK\n", headers={"Batchgate-Run-Id": accepted.run_ids[0]})


def _event(what: str) -> dict[str, Any]:
    """The event a ping's last path segment names: an event, or an exit status."""
    if what in EVENTS:
        return {"event": what}
    # isascii(): "¹" and "٣" are digits to str.isdigit(), not to int().
    if what.isascii() and what.isdigit() and len(what) <= 3 and int(what) <= 255:
        status = int(what)
        return {"event": "success" if status == 0 else "fail", "exit_code": status}
    raise _invalid("event", f"must be {', '.join(EVENTS)} or an exit status (0-255)")


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(400, f"invalid ping: {field}: {reason}", [{"field": field, "reason": reason}])
