"""The dashboard's pages (`/` and `/ui/...`) and its static files: thin handlers that ask
`collector.web.pages` what to show and render it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.keys import CLOCK, STATE, STORE
from collector.web import assets, pages
from collector.web.templates import render

HTML = "text/html"
NO_STORE = {"Cache-Control": "no-store"}
"""Pages show live state: a browser must not show yesterday's copy."""


def _page(template: str, active: str, now: float, **context: Any) -> web.Response:
    body = render(template, {"active": active, "now": now, **context})
    return web.Response(text=body, content_type=HTML, charset="utf-8", headers=NO_STORE)


def _not_found(what: str, now: float) -> web.Response:
    body = render("not_found.html", {"active": "", "now": now, "what": what})
    return web.Response(status=404, text=body, content_type=HTML, charset="utf-8", headers=NO_STORE)


async def overview(request: web.Request) -> web.Response:
    app = request.app
    now = app[CLOCK]()
    view = await pages.overview_page(app[STATE], app[STORE], now)
    return _page("overview.html", "overview", now, **view)


async def jobs(request: web.Request) -> web.Response:
    app = request.app
    now = app[CLOCK]()
    view = pages.jobs_page(app[STATE], now, pages.JobFilter.from_query(request.query))
    return _page("jobs.html", "jobs", now, **view)


async def job(request: web.Request) -> web.Response:
    app = request.app
    now = app[CLOCK]()
    name = request.match_info["job"]
    labels = {}
    for raw in request.query.getall("label", []):
        label, _, value = raw.partition("=")
        labels[label] = value
    view = await pages.job_page(app[STATE], app[STORE], now, name, labels, request.query)
    if view is None:
        return _not_found(
            f"no job named {name!r}" + (f" with labels {labels}" if labels else ""), now
        )
    return _page("job.html", "jobs", now, **view)


async def run(request: web.Request) -> web.Response:
    app = request.app
    now = app[CLOCK]()
    run_id = request.match_info["run_id"]
    view = await pages.run_page(app[STATE], app[STORE], now, run_id)
    if view is None:
        return _not_found(f"no run with id {run_id!r}", now)
    return _page("run.html", "jobs", now, **view)


async def alerts(request: web.Request) -> web.Response:
    return _page("alerts.html", "alerts", request.app[CLOCK]())


async def groups(request: web.Request) -> web.Response:
    return _page("groups.html", "groups", request.app[CLOCK]())


async def static(request: web.Request) -> web.Response:
    asset = assets.load().get(request.match_info["file"])
    if asset is None:
        raise web.HTTPNotFound(text="no such dashboard file")
    versioned = request.query.get("v") == asset.digest
    cache = "public, max-age=31536000, immutable" if versioned else "no-cache"
    etag = f'"{asset.digest}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag, "Cache-Control": cache})
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset="utf-8" if asset.content_type.startswith("text/") else None,
        headers={"ETag": etag, "Cache-Control": cache},
    )
