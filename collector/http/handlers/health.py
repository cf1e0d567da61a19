"""`/-/healthy`, `/-/ready` (as Prometheus and the Pushgateway have them) and `/health`."""

from __future__ import annotations

import time

from aiohttp import web

from batchgate.collector.http.keys import ALERTING, STORE, WRITER
from batchgate.collector.http.standby import LEADERSHIP, serves

BACKLOG_DEGRADED = 0.1
"""A write queue fuller than this share of its limit makes the server degraded."""


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="OK\n")


async def ready(request: web.Request) -> web.Response:
    """200 once the leader answers every route (`standby.serves`: restored, rules and
    background tasks started); 503 on a standby, so that load balancers and readiness
    probes send traffic to the leader alone."""
    leadership = request.app[LEADERSHIP]
    if not leadership.leads:
        leader = leadership.leader_name or "none right now"
        return web.Response(status=503, text=f"Service Unavailable: standby (leader: {leader})\n")
    if not serves(request.app):
        return web.Response(status=503, text="Service Unavailable: restoring state\n")
    return web.Response(text="OK\n")


async def health(request: web.Request) -> web.Response:
    """healthy, degraded or unhealthy, with the reasons; 503 when unhealthy. With the
    node's role and the leader; a standby is healthy while it can stand in."""
    app = request.app
    if not serves(app):
        return web.json_response({"status": "healthy", "reasons": [], **app[LEADERSHIP].as_json()})
    writer = app[WRITER]
    problems: list[dict[str, str]] = []
    if writer.error is not None:
        since = time.time() - (writer.failing_since or time.time())
        problems.append(
            {
                "severity": "unhealthy",
                "check": "store_writes",
                "reason": f"commits failing for {since:.0f}s: {writer.error}",
            }
        )
    store = app[STORE]
    try:
        await store.check()
    except Exception as error:
        problems.append({"severity": "unhealthy", "check": "store_reads", "reason": f"{error}"})
    wal = store.wal_bytes()
    if store.wal_limit_bytes and wal > store.wal_limit_bytes:
        problems.append(
            {
                "severity": "degraded",
                "check": "store_wal",
                "reason": f"write-ahead log of {wal / 2**20:.1f} MiB, past its bound of "
                f"{store.wal_limit_bytes / 2**20:.1f} MiB: checkpoints cannot start it over "
                "(a reader holds an old snapshot, or the disk fails them)",
            }
        )
    if writer.pending > writer.max_pending * BACKLOG_DEGRADED:
        problems.append(
            {
                "severity": "degraded",
                "check": "write_queue",
                "reason": f"{writer.pending} records waiting (limit {writer.max_pending})",
            }
        )
    alerting = app.get(ALERTING)
    if alerting is not None:
        problems.extend(alerting.problems(time.time()))
    severities = {problem["severity"] for problem in problems}
    status = "unhealthy" if "unhealthy" in severities else "degraded" if severities else "healthy"
    body = {
        "status": status,
        "reasons": problems,
        "write_queue": writer.pending,
        "commits": writer.commits,
        "failed_commits": writer.failed_commits,
        **app[LEADERSHIP].as_json(),
    }
    if alerting is not None:
        body["alerting"] = {
            "rules": len(alerting.engine.ruleset),
            "last_reload_successful": alerting.reload_status.error is None,
            "alerts_firing": sum(a.state == "firing" for a in alerting.engine.book.active.values()),
            "notifications_queued": alerting.outbox.queued,
        }
    return web.json_response(body, status=503 if status == "unhealthy" else 200)
