"""The front door wraps the pushes it answers as the app wraps every request: the app's
middlewares are those `middlewares.request_middlewares` declares, the front door applies
each of them, and the app has no `on_response_prepare` hook (which would never see the
front door's answers). An app wrapped in anything else is not served by the front door;
aiohttp alone serves it, with the switch off."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from batchgate.collector.auth import PUSH, Token
from batchgate.collector.http.app import create_app
from batchgate.collector.http.front_door import APPLIED_MIDDLEWARES, check_wrapping
from batchgate.collector.settings import Settings
from tests.helpers import Client, Server

TOKEN = Token("pusher", PUSH, hashlib.sha256(b"secret").hexdigest(), ("*",))


@pytest.mark.parametrize("tokens", [(), (TOKEN,)], ids=["open", "with tokens"])
def test_the_front_door_applies_whatever_wraps_a_request_of_the_app(
    settings: Settings, tokens: tuple[Token, ...]
) -> None:
    app = create_app(replace(settings, tokens=tokens))
    check_wrapping(app)
    assert app.middlewares
    assert set(app.middlewares) <= APPLIED_MIDDLEWARES
    assert not app.on_response_prepare


@web.middleware
async def stamp(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["X-Stamp"] = "stamped"
    return response


async def stamp_hook(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Stamp"] = "stamped"


def with_a_middleware(app: web.Application) -> None:
    app.middlewares.append(stamp)


def with_a_response_hook(app: web.Application) -> None:
    app.on_response_prepare.append(stamp_hook)


@pytest.mark.parametrize("wrap", [with_a_middleware, with_a_response_hook])
async def test_an_app_wrapped_in_what_the_front_door_does_not_apply_is_aiohttps_alone(
    settings: Settings, wrap: Callable[[web.Application], None], aiohttp_client: Any
) -> None:
    app = create_app(settings)
    wrap(app)
    behind_the_front_door = Server(app)
    with pytest.raises(RuntimeError, match="stamp"):
        await behind_the_front_door.start_server()
    await behind_the_front_door.close()

    app = create_app(replace(settings, data_dir=settings.data_dir / "alone"))
    wrap(app)
    client: Client = await aiohttp_client(Server(app, fast_path=False))
    response = await client.post("/push", json={"job": "j", "event": "start", "run_id": "r"})
    assert response.status == 200
    assert response.headers["X-Stamp"] == "stamped"
