"""Middleware: every error answered as JSON, every request counted by handler and code."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from collector.errors import ApiError, error_response
from collector.keys import REQUEST_METRICS

log = logging.getLogger(__name__)


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name or "unmatched"
    try:
        response = await handler(request)
    except ApiError as error:
        response = error.response()
    except web.HTTPException as error:
        if error.status < 400:
            request.app[REQUEST_METRICS].count_request(route, error.status)
            raise
        # aiohttp's own refusals (404, 405, 413, ...) in the same JSON shape as ours.
        message = error.text if error.text and error.text != error.reason else error.reason
        response = error_response(error.status, message.strip(), headers=_allow(error))
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = error_response(500, "internal error; this is a bug, please report it")
    request.app[REQUEST_METRICS].count_request(route, response.status)
    return response


def _allow(error: web.HTTPException) -> dict[str, str] | None:
    allow = error.headers.get("Allow")
    return {"Allow": allow} if allow else None
