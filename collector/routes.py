"""The route table: every endpoint batchgate serves, in one place."""

from __future__ import annotations

from aiohttp import web

from collector.handlers import dashboard, health, jobs, live_events, openapi, push, runs, scrape


def setup_routes(app: web.Application) -> None:
    add = app.router
    add.add_post("/push", push.push_events, name="push")
    add.add_get("/jobs", jobs.list_jobs, name="jobs")
    add.add_get("/jobs/{job}", jobs.get_job, name="job")
    add.add_delete("/jobs/{job}", jobs.delete_job, name="delete_job")
    add.add_get("/jobs/{job}/runs", jobs.job_runs, name="job_runs")
    add.add_get("/jobs/{job}/trends", jobs.job_trends, name="job_trends")
    add.add_get("/runs/{run_id}", runs.get_run, name="run")
    add.add_get("/summary", jobs.summary, name="summary")
    add.add_get("/events", live_events.events, name="events")
    add.add_get("/metrics", scrape.metrics, name="metrics")
    add.add_get("/openapi.json", openapi.openapi, name="openapi")
    add.add_get("/-/healthy", health.healthy, name="healthy")
    add.add_get("/-/ready", health.ready, name="ready")
    add.add_get("/health", health.health, name="health")
    # The dashboard: pages for people, and their static files.
    add.add_get("/", dashboard.overview, name="dashboard_overview")
    add.add_get("/ui/jobs", dashboard.jobs, name="dashboard_jobs")
    add.add_get("/ui/jobs/{job}", dashboard.job, name="dashboard_job")
    add.add_get("/ui/runs/{run_id}", dashboard.run, name="dashboard_run")
    add.add_get("/ui/alerts", dashboard.alerts, name="dashboard_alerts")
    add.add_get("/ui/groups", dashboard.groups, name="dashboard_groups")
    add.add_get("/ui/static/{file}", dashboard.static, name="dashboard_static")
