"""Saving a silence from a request's body, for both doors that take one: batchgate's own
`POST /silences` and Alertmanager's `POST /api/v2/silences`. Each checks what its API
asks of the body first; what follows is the same."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.handlers import audit
from batchgate.collector.http.keys import ALERTING, CLOCK, WRITER
from batchgate.rules import InvalidSilence, parse_silence


async def save_silence(request: web.Request, body: Any, identity: object) -> web.Response:
    """Parse the body into a silence (a new id unless it names one), put it in effect,
    audit it, and answer `{"silenceID": ...}` once it is durable. A 400 names each field
    that is wrong."""
    now = request.app[CLOCK]()
    try:
        silence = parse_silence(body, new_id=str(uuid.uuid4()), now=now)
    except InvalidSilence as invalid:
        raise ApiError(
            400, f"invalid silence: {invalid}", [error.to_dict() for error in invalid.errors]
        ) from None
    request.app[ALERTING].put_silence(silence, now)
    audit.record(
        request,
        "silence.update" if isinstance(identity, str) else "silence.create",
        silence.id,
        matchers=[matcher.to_dict() for matcher in silence.matchers],
        ends_at=silence.ends_at,
        comment=silence.comment,
    )
    await request.app[WRITER].durable()
    return web.json_response({"silenceID": silence.id})
