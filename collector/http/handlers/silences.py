"""`POST|GET /silences`, `GET|DELETE /silences/{id}`: silences in Alertmanager's API v2 shape."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.handlers import audit
from batchgate.collector.http.keys import ALERTING, CLOCK, WRITER
from batchgate.collector.http.silence_writes import save_silence
from batchgate.rules import Silence
from batchgate.rules.silences import ACTIVE, PENDING


def _found(request: web.Request) -> Silence:
    silence_id = request.match_info["silence_id"]
    service = request.app[ALERTING]
    silence = service.silences.get(silence_id) or service.window(silence_id)
    if silence is None:
        raise ApiError(
            404,
            f"no silence {silence_id}",
            [{"field": "silence_id", "reason": "no such silence"}],
        )
    return silence


async def create_silence(request: web.Request) -> web.Response:
    """Create a silence, or replace one when the body has the `id` of an existing silence.
    Answers `{"silenceID": ...}` as Alertmanager does."""
    try:
        body: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(
            400, f"the body is not JSON: {error}", [{"field": "body", "reason": "not JSON"}]
        ) from None
    service = request.app[ALERTING]
    identity = body.get("id") if isinstance(body, dict) else None
    if isinstance(identity, str):
        _refuse_a_window(request, identity)
    if isinstance(identity, str) and identity not in service.silences:
        raise ApiError(
            404,
            f"no silence {identity} to update",
            [{"field": "id", "reason": "no such silence; leave it out to create one"}],
        )
    return await save_silence(request, body, identity)


def _refuse_a_window(request: web.Request, silence_id: str) -> None:
    if request.app[ALERTING].window(silence_id) is not None:
        raise ApiError(
            409,
            f"silence {silence_id} is a maintenance window of the config file",
            [{"field": "id", "reason": "change it in the config file (maintenance_windows)"}],
        )


def _order(now: float) -> Any:
    # As Alertmanager lists them: active by end, pending by start, then expired, newest first.
    def key(silence: Silence) -> tuple[int, float]:
        state = silence.state(now)
        if state == ACTIVE:
            return (0, silence.ends_at)
        if state == PENDING:
            return (1, silence.starts_at)
        return (2, -silence.ends_at)

    return key


async def list_silences(request: web.Request) -> web.Response:
    """Every silence, expired ones included (for five days after they end), and the config
    file's maintenance windows."""
    now = request.app[CLOCK]()
    silences = sorted(request.app[ALERTING].listed_silences(), key=_order(now))
    return web.json_response([silence.to_dict(now) for silence in silences])


async def get_silence(request: web.Request) -> web.Response:
    return web.json_response(_found(request).to_dict(request.app[CLOCK]()))


async def delete_silence(request: web.Request) -> web.Response:
    """Expire a silence now (it stays listed as expired); answers the silence as it now is."""
    silence = _found(request)
    now = request.app[CLOCK]()
    _refuse_a_window(request, silence.id)
    expired = request.app[ALERTING].expire_silence(silence.id, now)
    assert expired is not None
    audit.record(request, "silence.expire", silence.id)
    await request.app[WRITER].durable()
    return web.json_response(expired.to_dict(now))
