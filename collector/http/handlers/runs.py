"""`GET /runs/{run_id}`: one run with its progress and resource timeline."""

from __future__ import annotations

from aiohttp import web

from batchgate.collector.core.api_json import point_json, run_json
from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.keys import CLOCK, SETTINGS, STATE, STORE


async def get_run(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    app = request.app
    store = app[STORE]
    run = app[STATE].find_run(run_id)
    if run is None:
        found = await store.get_runs([run_id])
        if not found:
            raise ApiError(404, f"no run with id {run_id!r}")
        run = found[0]
    body = run_json(run, app[CLOCK](), app[SETTINGS].runs)
    body["timeline"] = [point_json(point) for point in await store.timeline(run_id)]
    return web.json_response(body)
