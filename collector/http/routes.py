"""The route table: every endpoint batchgate serves, in one place."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchgate.collector.http.handlers import (
    alertmanager_api,
    alerts,
    audit,
    dashboard,
    health,
    jobs,
    live_events,
    openapi,
    otlp,
    ping,
    push,
    pushgateway,
    queues,
    reload,
    runs,
    scrape,
    silences,
)


class _Prefixed:
    """The router, with every path under the configured route prefix."""

    def __init__(self, router: web.UrlDispatcher, prefix: str) -> None:
        self._router = router
        self._prefix = prefix

    def __getattr__(self, method: str) -> Any:
        add = getattr(self._router, method)
        return lambda path, handler, **kwargs: add(self._prefix + path, handler, **kwargs)


def setup_routes(app: web.Application, prefix: str = "") -> None:
    add = _Prefixed(app.router, prefix)
    add.add_post("/push", push.push_events, name="push")
    for path, name in (("/ping/{job}", "ping"), ("/ping/{job}/{event}", "ping_event")):
        add.add_get(path, ping.ping, name=name)
        add.add_post(path, ping.ping, name=name)
    add.add_get("/jobs", jobs.list_jobs, name="jobs")
    add.add_get("/jobs/{job}", jobs.get_job, name="job")
    add.add_delete("/jobs/{job}", jobs.delete_job, name="delete_job")
    add.add_get("/jobs/{job}/runs", jobs.job_runs, name="job_runs")
    add.add_get("/jobs/{job}/trends", jobs.job_trends, name="job_trends")
    add.add_get("/runs/{run_id}", runs.get_run, name="run")
    add.add_get("/summary", jobs.summary, name="summary")
    add.add_get("/queues", queues.list_queues, name="queues")
    add.add_get("/queues/{queue}", queues.get_queue, name="queue")
    add.add_get("/queues/{queue}/trends", queues.queue_trends, name="queue_trends")
    add.add_post("/queues/{queue}/pause", queues.pause_queue, name="queue_pause")
    add.add_post("/queues/{queue}/resume", queues.resume_queue, name="queue_resume")
    add.add_post("/runs/{run_id}/cancel", queues.cancel_run, name="run_cancel")
    add.add_get("/events", live_events.events, name="events")
    add.add_get("/metrics", scrape.metrics, name="metrics")
    add.add_get("/openapi.json", openapi.openapi, name="openapi")
    add.add_get("/-/healthy", health.healthy, name="healthy")
    add.add_get("/-/ready", health.ready, name="ready")
    add.add_get("/health", health.health, name="health")

    # The Pushgateway's API, with its semantics (see collector/http/handlers/pushgateway.py).
    # Any path: the registry answers one that is not job/... as the Pushgateway (404, text).
    grouping = r"/metrics/{grouping:[\s\S]+}"
    add.add_put(grouping, pushgateway.push, name="pushgateway_push")
    add.add_post(grouping, pushgateway.push, name="pushgateway_push")
    add.add_delete(grouping, pushgateway.delete, name="pushgateway_delete")
    add.add_get("/api/v1/metrics", pushgateway.api_metrics, name="pushgateway_api_metrics")
    add.add_get("/api/v1/status", pushgateway.api_status_handler, name="pushgateway_api_status")
    add.add_put("/api/v1/admin/wipe", pushgateway.wipe, name="pushgateway_wipe")
    add.add_get("/groups/history", pushgateway.history, name="group_history")
    # OpenTelemetry's OTLP/HTTP metrics export (collector/http/handlers/otlp.py).
    add.add_post("/v1/metrics", otlp.export_metrics, name="otlp_metrics")
    add.add_get("/audit", audit.audit_log, name="audit")
    add.add_get("/alerts", alerts.list_alerts, name="alerts")
    add.add_get("/alerts/history", alerts.alert_history, name="alert_history")
    add.add_post("/silences", silences.create_silence, name="create_silence")
    add.add_get("/silences", silences.list_silences, name="silences")
    add.add_get("/silences/{silence_id}", silences.get_silence, name="silence")
    add.add_delete("/silences/{silence_id}", silences.delete_silence, name="delete_silence")
    # Alertmanager's API v2, for amtool, karma and Grafana (handlers/alertmanager_api.py).
    am = alertmanager_api
    add.add_get("/api/v2/alerts", am.get_alerts, name="am_alerts")
    add.add_get("/api/v2/silences", am.get_silences, name="am_silences")
    add.add_post("/api/v2/silences", am.post_silence, name="am_create_silence")
    add.add_get("/api/v2/silence/{silence_id}", am.get_silence, name="am_silence")
    add.add_delete("/api/v2/silence/{silence_id}", am.delete_silence, name="am_delete_silence")
    add.add_get("/api/v2/status", am.get_status, name="am_status")
    add.add_post("/-/reload", reload.reload, name="reload")
    # The dashboard: pages for people, and their static files.
    add.add_get("/", dashboard.overview, name="dashboard_overview")
    add.add_get("/ui/jobs", dashboard.jobs, name="dashboard_jobs")
    add.add_get("/ui/jobs/{job}", dashboard.job, name="dashboard_job")
    add.add_get("/ui/runs/{run_id}", dashboard.run, name="dashboard_run")
    add.add_get("/ui/alerts", dashboard.alerts, name="dashboard_alerts")
    add.add_get("/ui/groups", dashboard.groups, name="dashboard_groups")
    add.add_get("/ui/queues", dashboard.queues, name="dashboard_queues")
    add.add_get("/ui/queues/{queue}", dashboard.queue, name="dashboard_queue")
    add.add_get("/ui/static/{file}", dashboard.static, name="dashboard_static")
