"""`/ping/{job}`: a job's life in the URL, for a crontab or a shell with nothing but curl
(Healthchecks' ping API, in batchgate's words). `/ping/backup/start` when it starts, then
`/ping/backup` (success), `/ping/backup/fail`, or `/ping/backup/$?` (its exit status);
labels in the query string, a POSTed body as the run's message. A task queue's run:
`/ping/send-email/queued?rid=42&queue=emails`, then `start`, `retry`, ... with `attempt` and
`max_attempts`. Acknowledged once durable, as `POST /push` is.

`/ping/backup/pause?for=2h` silences the job's alerts for a while (a snooze from its own
command line, with the push token that may push it): a silence on `job` and the labels given,
audited as any silence."""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from aiohttp import web

from batchgate.collector.core.declarations import PING_PARAMETERS, declaration_from_query
from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.handlers import audit
from batchgate.collector.http.keys import ALERTING, CLOCK, INGEST, STATE, WRITER
from batchgate.collector.http.middlewares import identity
from batchgate.rules import InvalidSilence, parse_silence
from batchgate.rules.durations import parse_duration
from batchgate.rules.payloads import format_time

EVENTS: Final = ("queued", "start", "retry", "success", "fail", "cancel")
RUN_ID: Final = ("rid", "run_id")
"""Query parameters naming the run (`rid` is Healthchecks' name); those and FIELDS aside,
every query parameter is a label."""
FIELDS: Final = ("queue", "attempt", "max_attempts")
"""Query parameters that are the push fields of the same names, not labels."""
DECLARING: Final = frozenset(PING_PARAMETERS.values())
"""Query parameters by which a job declares its own schedule (`schedule`, `tz`, `grace`,
`max_runtime`), not labels."""


async def ping(request: web.Request) -> web.Response:
    ingest = request.app[INGEST]
    ingest.refuse_unless_accepting()
    if request.match_info.get("event") == "pause":
        return await _pause(request)
    item: dict[str, Any] = {"job": request.match_info["job"]}
    item.update(_event(request.match_info.get("event", "success")))
    labels: dict[str, str] = {}
    declared: dict[str, str] = {}
    for name, value in request.query.items():
        if name in RUN_ID:
            item["run_id"] = value
        elif name in DECLARING:
            declared[name] = value
        elif name in FIELDS:
            # A number stays text when it is not one, for /push's validation to name it.
            item[name] = int(value) if name != "queue" and value.isdecimal() else value
        elif name in labels:
            raise _invalid(f"labels.{name}", "given twice")
        else:
            labels[name] = value
    if labels:
        item["labels"] = labels
    if declared:
        item["schedule"] = _declaration(declared)
    if request.method == "POST" and request.can_read_body:
        message = (await request.read()).decode("utf-8", "replace").strip()
        if message:
            item["message"] = message
    now = ingest.clock()
    accepted = await ingest.push_events(identity(request), ingest.parse_events(item, now), now)
    return web.Response(text="OK\n", headers={"Batchgate-Run-Id": accepted.run_ids[0]})


_PAUSES: Final = uuid.UUID("5a0c3e2b-6f0e-4d59-9a57-5c0a7d1f4b21")
PAUSE_LIMIT: Final = 7 * 86400.0
"""The longest pause a ping may ask for: longer is a silence to make on purpose."""


async def _pause(request: web.Request) -> web.Response:
    """Silence the job's alerts (those with its name and the labels given) for `for`."""
    job = request.match_info["job"]
    token = identity(request)
    if not token.may_push(job):
        raise ApiError(403, f"token {token.name!r} may not pause job {job!r}")
    raw = request.query.get("for")
    if raw is None:
        raise _invalid("for", "required: how long to pause, e.g. for=2h")
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise _invalid("for", str(exc)) from None
    if not 0 < seconds <= PAUSE_LIMIT:
        raise _invalid("for", "must be longer than 0s and at most 7d")
    labels = {name: value for name, value in request.query.items() if name != "for"}
    known = [dict(found.key.labels) for found in request.app[STATE].jobs_named(job)]
    if not any(all(have.get(n) == v for n, v in labels.items()) for have in known):
        # Only jobs that exist: a push token cannot make silences for made-up label sets.
        raise ApiError(
            404,
            f"no job {job!r} with labels {labels} to pause",
            [{"field": "job", "reason": "no such job (with these labels)"}],
        )
    matchers = [{"name": "job", "value": job}]
    matchers += [{"name": name, "value": value} for name, value in sorted(labels.items())]
    comment = f"paused by /ping/{job}/pause for {raw}"
    if request.method == "POST" and request.can_read_body:
        comment = (await request.read()).decode("utf-8", "replace").strip() or comment
    now = request.app[CLOCK]()
    body = {
        "matchers": matchers,
        "startsAt": format_time(now),
        "endsAt": format_time(now + seconds),
        "createdBy": token.name,
        "comment": comment,
    }
    try:
        # One pause per job and labels: pausing again replaces it, so a push token cannot
        # pile up silences.
        key = json.dumps(matchers, sort_keys=True)
        silence = parse_silence(body, new_id=str(uuid.uuid5(_PAUSES, key)), now=now)
    except InvalidSilence as invalid:
        first = invalid.errors[0]
        raise _invalid(first.field, first.reason) from None
    request.app[ALERTING].put_silence(silence, now)
    audit.record(
        request,
        "silence.create",
        silence.id,
        matchers=[matcher.to_dict() for matcher in silence.matchers],
        ends_at=silence.ends_at,
        comment=silence.comment,
    )
    await request.app[WRITER].durable()
    return web.Response(text="OK\n", headers={"Batchgate-Silence-Id": silence.id})


def _event(what: str) -> dict[str, Any]:
    """The event a ping's last path segment names: an event, or an exit status."""
    if what in EVENTS:
        return {"event": what}
    # isascii(): "¹" and "٣" are digits to str.isdigit(), not to int().
    if what.isascii() and what.isdigit() and len(what) <= 3 and int(what) <= 255:
        status = int(what)
        return {"event": "success" if status == 0 else "fail", "exit_code": status}
    raise _invalid("event", f"must be {', '.join(EVENTS)} or an exit status (0-255)")


def _declaration(declared: dict[str, str]) -> dict[str, str]:
    """The job's own schedule from `schedule=`, `tz=`, `grace=`, `max_runtime=`, as a push's
    `schedule` object; a 400 naming the query parameter when it is not valid."""
    _, problems = declaration_from_query(declared, 0.0)
    if problems:
        raise _invalid(*problems[0])
    return {field: declared[name] for field, name in PING_PARAMETERS.items() if name in declared}


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(400, f"invalid ping: {field}: {reason}", [{"field": field, "reason": reason}])
