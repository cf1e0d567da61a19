"""Middleware: every error answered as JSON, every request counted by handler and code,
and (when tokens are configured) every request authenticated and authorized."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from batchgate.collector.auth import (
    ANONYMOUS,
    OPEN,
    ROUTE_ROLES,
    Authenticator,
    Denied,
    Token,
    authorize,
)
from batchgate.collector.http.errors import ApiError, error_response
from batchgate.collector.http.keys import AUTHENTICATOR, REQUEST_METRICS
from batchgate.collector.http.standby import (
    LEADERSHIP,
    SERVED_ON_STANDBY,
    serves,
    standby_metrics,
    standby_refusal,
)
from batchgate.collector.ingest import Refused
from batchgate.collector.storage.writer import StorageFailing

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

log = logging.getLogger(__name__)


def request_middlewares(authenticator: Authenticator) -> list[Middleware]:
    """What wraps every request of the app, outermost first: errors answered as JSON and
    requests counted, then, only when tokens are configured (open costs nothing),
    authentication. The front door does the same to the pushes it answers, and will not
    start for an app wrapped otherwise (`front_door.check_wrapping`)."""
    if authenticator.enabled:
        return [errors_and_metrics, authenticate]
    return [errors_and_metrics]


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name or "unmatched"
    try:
        if route in SERVED_ON_STANDBY or serves(request.app):
            response = await handler(request)
        elif route == "metrics":
            if request.app[AUTHENTICATOR].enabled:
                authenticated(request.app, route, request.headers.get("Authorization"))
            response = standby_metrics(request.app)
        else:
            raise standby_refusal(request.app[LEADERSHIP])
    except web.HTTPException as error:
        if error.status < 400:
            request.app[REQUEST_METRICS].count_request(route, error.status)
            raise
        # aiohttp's own refusals (404, 405, 413, ...) in the same JSON shape as ours.
        message = error.text if error.text and error.text != error.reason else error.reason
        response = error_response(error.status, message.strip(), headers=_allow(error))
    except Exception as error:
        response = failure_response(error, request.method, request.path)
    request.app[REQUEST_METRICS].count_request(route, response.status)
    return response


def failure_response(error: Exception, method: str, path: str) -> web.Response:
    """The answer to a handler's exception (the middleware's, and the front door's)."""
    if isinstance(error, Refused):  # an ApiError, or the ingest service's refusal
        return error_response(error.status, error.message, error.details, error.headers)
    if isinstance(error, StorageFailing):
        # A write not durable in time, wherever it was awaited: the client should retry.
        return error_response(503, str(error), headers={"Retry-After": "5"})
    log.error("unhandled error in %s %s", method, path, exc_info=error)
    return error_response(500, "internal error; this is a bug, please report it")


def _allow(error: web.HTTPException) -> dict[str, str] | None:
    allow = error.headers.get("Allow")
    return {"Allow": allow} if allow else None


IDENTITY = web.RequestKey("identity", Token)
# Basic first: browsers act on the first challenge they see, and Chromium ignores the rest
# when the first is Bearer; Basic is what lets a person open the dashboard with a token.
CHALLENGE = {"WWW-Authenticate": 'Basic realm="batchgate", Bearer realm="batchgate"'}


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is asking, and may they call this route? Installed only when tokens exist."""
    route = request.match_info.route.name
    if request.match_info.http_exception is None and ROUTE_ROLES.get(route or "") != OPEN:
        request[IDENTITY] = authenticated(request.app, route, request.headers.get("Authorization"))
    return await handler(request)


def authenticated(app: web.Application, route: str | None, authorization: str | None) -> Token:
    """The token behind an Authorization header, if it may call the route; ApiError (401
    with the challenge, or 403) if not."""
    try:
        token = app[AUTHENTICATOR].identify(authorization)
        authorize(token, route)
    except Denied as denied:
        raise ApiError(
            denied.status, denied.message, headers=CHALLENGE if denied.status == 401 else None
        ) from None
    return token


def identity(request: web.Request) -> Token:
    """The token the request authenticated with (everyone is anonymous when auth is off)."""
    token: Token = request.get(IDENTITY, ANONYMOUS)
    return token
