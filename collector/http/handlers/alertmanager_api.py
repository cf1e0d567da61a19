"""Alertmanager's API v2, served by batchgate, so its tools (amtool, karma, Grafana's
Alertmanager data source) read batchgate's alerts and manage its silences.

`GET /api/v2/alerts` (`filter`, `silenced`, `inhibited`, `active`, `unprocessed`,
`receiver`), `GET|POST /api/v2/silences`, `GET|DELETE /api/v2/silence/{silenceID}` and
`GET /api/v2/status`, in Alertmanager's shapes and matcher syntax, under the same roles as
batchgate's own `/alerts` and `/silences`. Firing alerts are Alertmanager's alerts: `active`,
or `suppressed` when a silence or an inhibit rule holds them; pending and resolved ones are
not listed, as Alertmanager never holds them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from batchgate import __version__
from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.handlers import audit
from batchgate.collector.http.keys import ALERTING, CLOCK, GROUPS, WRITER
from batchgate.collector.http.silence_writes import save_silence
from batchgate.rules import Alert, Silence
from batchgate.rules.alerts import FIRING
from batchgate.rules.matcher_strings import Matcher, parse_matchers
from batchgate.rules.payloads import format_time, generator_url

ENDS_AFTER: Final = 300.0
"""An active alert's `endsAt`: when Alertmanager would resolve it without news (its default
`resolve_timeout`, 5m); batchgate says again before then while it fires."""


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "true")
    if raw not in ("true", "false"):
        raise ApiError(400, f"{name}: must be true or false", [{"field": name, "reason": raw}])
    return raw == "true"


def _filter(request: web.Request) -> tuple[Matcher, ...]:
    matchers: list[Matcher] = []
    for index, text in enumerate(request.query.getall("filter", [])):
        try:
            matchers.extend(parse_matchers(text))
        except ValueError as exc:
            raise ApiError(
                400,
                f"bad matcher format: {exc}",
                [{"field": f"filter[{index}]", "reason": str(exc)}],
            ) from None
    return tuple(matchers)


def _gettable_alert(alert: Alert, receivers: list[str], external_url: str, now: float) -> Any:
    suppressed = bool(alert.silenced_by or alert.inhibited_by)
    started = alert.fired_at if alert.fired_at is not None else alert.active_at
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": format_time(started),
        "updatedAt": format_time(now),
        "endsAt": format_time(now + ENDS_AFTER),
        "fingerprint": alert.fingerprint,
        "generatorURL": generator_url(external_url, alert.job_name, alert.run_id),
        "receivers": [{"name": name} for name in receivers],
        "status": {
            "state": "suppressed" if suppressed else "active",
            "silencedBy": list(alert.silenced_by),
            "inhibitedBy": list(alert.inhibited_by),
            "mutedBy": [],
        },
    }


async def get_alerts(request: web.Request) -> web.Response:
    """Alertmanager's GET /api/v2/alerts over batchgate's firing alerts."""
    active, silenced = _flag(request, "active"), _flag(request, "silenced")
    inhibited, _ = _flag(request, "inhibited"), _flag(request, "unprocessed")
    matchers = _filter(request)
    receiver = request.query.get("receiver")
    try:
        receiver_re = re.compile(receiver) if receiver else None
    except re.error as exc:
        raise ApiError(
            400, f"receiver: {exc}", [{"field": "receiver", "reason": str(exc)}]
        ) from None
    service = request.app[ALERTING]
    now = request.app[CLOCK]()
    external_url = service.outbox.external_url
    listed = []
    for alert in service.engine.book.active.values():
        if alert.state != FIRING or not all(m.matches(alert.labels) for m in matchers):
            continue
        if alert.silenced_by and not silenced:
            continue
        if alert.inhibited_by and not inhibited:
            continue
        if not (alert.silenced_by or alert.inhibited_by) and not active:
            continue
        names = [route.name for route in service.router.route(alert.labels)]
        if receiver_re is not None and not any(receiver_re.fullmatch(n) for n in names):
            continue
        listed.append(_gettable_alert(alert, names, external_url, now))
    listed.sort(key=lambda item: item["fingerprint"])
    return web.json_response(listed)


def _silence_matches(silence: Silence, matchers: Iterable[Matcher]) -> bool:
    """As Alertmanager filters silences: every filter matcher matches the value of one of the
    silence's matchers of the same name."""
    return all(
        any(
            own.name == wanted.name and wanted.matches({own.name: own.value})
            for own in silence.matchers
        )
        for wanted in matchers
    )


def _gettable_silence(silence: Silence, now: float) -> dict[str, Any]:
    shown = silence.to_dict(now)
    shown.pop("recurrence", None)  # batchgate's own: Alertmanager's clients do not know it
    shown["annotations"] = {}
    return shown


async def get_silences(request: web.Request) -> web.Response:
    """Alertmanager's GET /api/v2/silences (`filter`)."""
    matchers = _filter(request)
    now = request.app[CLOCK]()
    silences = [
        _gettable_silence(silence, now)
        for silence in request.app[ALERTING].listed_silences()
        if _silence_matches(silence, matchers)
    ]
    return web.json_response(silences)


def _found(request: web.Request) -> Silence:
    silence_id = request.match_info["silence_id"]
    service = request.app[ALERTING]
    silence = service.silences.get(silence_id) or service.window(silence_id)
    if silence is None:
        raise ApiError(
            404,
            f"silence {silence_id} not found",
            [{"field": "silenceID", "reason": "no such silence"}],
        )
    return silence


async def get_silence(request: web.Request) -> web.Response:
    return web.json_response(_gettable_silence(_found(request), request.app[CLOCK]()))


async def post_silence(request: web.Request) -> web.Response:
    """Alertmanager's POST /api/v2/silences: create, or replace the silence with its `id`."""
    try:
        body: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(
            400, f"the body is not JSON: {error}", [{"field": "body", "reason": "not JSON"}]
        ) from None
    if not isinstance(body, Mapping):
        raise ApiError(
            400, "a silence must be a JSON object", [{"field": "body", "reason": "not an object"}]
        )
    body = dict(body)
    body.pop("annotations", None)  # Alertmanager 0.28's; batchgate keeps none
    if not body.get("id"):
        body.pop("id", None)
    service = request.app[ALERTING]
    identity = body.get("id")
    if isinstance(identity, str):
        if service.window(identity) is not None:
            raise ApiError(
                409,
                f"silence {identity} is a maintenance window of the config file",
                [{"field": "id", "reason": "change it in the config file"}],
            )
        if identity not in service.silences:
            raise ApiError(
                404, f"silence {identity} not found", [{"field": "id", "reason": "no such silence"}]
            )
    return await save_silence(request, body, identity)


async def delete_silence(request: web.Request) -> web.Response:
    """Alertmanager's DELETE /api/v2/silence/{silenceID}: expire it now; an empty 200."""
    silence = _found(request)
    service = request.app[ALERTING]
    if service.window(silence.id) is not None:
        raise ApiError(
            409,
            f"silence {silence.id} is a maintenance window of the config file",
            [{"field": "silenceID", "reason": "change it in the config file"}],
        )
    service.expire_silence(silence.id, request.app[CLOCK]())
    audit.record(request, "silence.expire", silence.id)
    await request.app[WRITER].durable()
    return web.Response(status=200)


async def get_status(request: web.Request) -> web.Response:
    """Alertmanager's GET /api/v2/status: batchgate's version; no cluster, no Alertmanager
    configuration (batchgate's receivers are in its own config file)."""
    return web.json_response(
        {
            "cluster": {"name": "", "status": "disabled", "peers": []},
            "versionInfo": {
                "version": __version__,
                "revision": "",
                "branch": "",
                "buildUser": "batchgate",
                "buildDate": "",
                "goVersion": f"python{sys.version.split()[0]}",
            },
            "config": {"original": ""},
            "uptime": format_time(request.app[GROUPS].started_at),
        }
    )
