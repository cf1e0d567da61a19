"""The dashboard's pages (`/` and `/ui/...`) and its static files: thin handlers that ask
`batchgate.collector.http.web.pages` what to show and render it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchgate.collector.http.keys import ALERTING, CLOCK, SETTINGS, STATE, STORE
from batchgate.collector.http.web import alert_views, assets, pages, queue_views
from batchgate.collector.http.web.templates import render
from batchgate.rules.alerts import ALERT_STATES, FIRING

HTML = "text/html"
NO_STORE = {"Cache-Control": "no-store"}
"""Pages show live state: a browser must not show yesterday's copy."""


def _page(
    request: web.Request, template: str, active: str, status: int = 200, **context: Any
) -> web.Response:
    """A rendered page. Its URLs are relative to `base`, the server's root under any route
    prefix (--web.route-prefix), which the page's <base> element names."""
    base = request.app[SETTINGS].route_prefix
    now = request.app[CLOCK]()
    body = render(template, {"active": active, "now": now, "base": base, **context})
    return web.Response(
        status=status, text=body, content_type=HTML, charset="utf-8", headers=NO_STORE
    )


def _alerts(app: web.Application, now: float) -> alert_views.AlertSource:
    """The alerting service's alerts and silences as they are now."""
    alerting = app[ALERTING]
    engine = alerting.engine
    return alert_views.AlertSource(
        engine.alerts, alerting.listed_silences(), engine.ruleset.rules, now
    )


def _not_found(request: web.Request, what: str) -> web.Response:
    return _page(request, "not_found.html", "", status=404, what=what)


async def overview(request: web.Request) -> web.Response:
    app = request.app
    now = app[CLOCK]()
    alerts = _alerts(app, now)
    view = await pages.overview_page(app[STATE], app[STORE], now, alerts.stale_groups())
    firing = alert_views.alert_list(alerts, (FIRING,))
    return _page(request, "overview.html", "overview", firing=firing, **view)


async def jobs(request: web.Request) -> web.Response:
    app = request.app
    now = app[CLOCK]()
    wanted = pages.JobFilter.from_query(request.query)
    view = pages.jobs_page(app[STATE], now, wanted, _alerts(app, now).stale_groups())
    return _page(request, "jobs.html", "jobs", **view)


async def job(request: web.Request) -> web.Response:
    app = request.app
    name = request.match_info["job"]
    labels = {}
    for raw in request.query.getall("label", []):
        label, _, value = raw.partition("=")
        labels[label] = value
    now = app[CLOCK]()
    view = await pages.job_page(
        app[STATE], app[STORE], now, name, labels, request.query,
        lambda job: app[ALERTING].schedules(job, now),
    )  # fmt: skip
    if view is None:
        suffix = f" with labels {labels}" if labels else ""
        return _not_found(request, f"no job named {name!r}{suffix}")
    alerts = alert_views.alert_list(_alerts(app, now), ALERT_STATES, name, labels)
    return _page(request, "job.html", "jobs", alerts=alerts, **view)


async def run(request: web.Request) -> web.Response:
    app = request.app
    run_id = request.match_info["run_id"]
    view = await pages.run_page(app[STATE], app[STORE], app[CLOCK](), run_id)
    if view is None:
        return _not_found(request, f"no run with id {run_id!r}")
    return _page(request, "run.html", "jobs", **view)


async def alerts(request: web.Request) -> web.Response:
    source = _alerts(request.app, request.app[CLOCK]())
    view = alert_views.alerts_page(source, request.query.get("q", ""))
    return _page(request, "alerts.html", "alerts", **view)


async def groups(request: web.Request) -> web.Response:
    return _page(request, "groups.html", "groups")


async def queues(request: web.Request) -> web.Response:
    app = request.app
    view = queue_views.queues_page(app[STATE], app[CLOCK](), request.query.get("q", ""))
    return _page(request, "queues.html", "queues", **view)


async def queue(request: web.Request) -> web.Response:
    app = request.app
    name = request.match_info["queue"]
    view = queue_views.queue_page(app[STATE], app[CLOCK](), name)
    if view is None:
        return _not_found(request, f"no queue named {name!r}")
    return _page(request, "queue.html", "queues", **view)


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
