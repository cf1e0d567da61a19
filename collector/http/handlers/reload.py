"""`POST /-/reload`: read the rules and the config file's alerting keys again (as SIGHUP does)."""

from __future__ import annotations

from aiohttp import web

from batchgate.collector.http.alerting import reload_alerting
from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.handlers import audit
from batchgate.collector.http.keys import WRITER
from batchgate.rules import ConfigErrors


async def reload(request: web.Request) -> web.Response:
    """200 with what is now in effect; 400 with every error (file:line) when a file is
    invalid, and the rules and receivers in effect stay."""
    try:
        service = await reload_alerting(request.app)
    except ConfigErrors as failed:
        errors = failed.errors
        audit.record(request, "reload", "rules and receivers", ok=False, errors=len(errors))
        await request.app[WRITER].durable()
        raise ApiError(
            400,
            f"reload failed with {len(errors)} error{'s' if len(errors) != 1 else ''}; "
            "the rules and receivers in effect stay",
            [{"field": f"{error.file}:{error.line}", "reason": error.reason} for error in errors],
        ) from None
    audit.record(request, "reload", "rules and receivers", ok=True)
    await request.app[WRITER].durable()
    return web.json_response(
        {
            "status": "success",
            "rules": len(service.engine.ruleset),
            "rules_files": list(service.engine.ruleset.files),
            "receivers": [receiver.name for receiver in service.router.receivers],
        }
    )
