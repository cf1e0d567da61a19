"""`/queues`, `/queues/{queue}` and its trends: the queues the runs name, with what waits
in them now, what went through them in the last hour and day, and over a longer period
from the history."""

from __future__ import annotations

import bisect
import fnmatch
import re

from aiohttp import web

from batchgate.collector.core.api_json import encode_cursor, queue_json, rfc3339, run_json
from batchgate.collector.core.model import RUNNING, WAITING_STATUSES
from batchgate.collector.core.queues import figures
from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.handlers import audit, query
from batchgate.collector.http.keys import CLOCK, SETTINGS, STATE, STORE, WRITER

WAITING_SHOWN = 100
"""Runs waiting now that `GET /queues/{queue}` lists (the longest waiting first)."""


async def list_queues(request: web.Request) -> web.Response:
    """Queues in name order, filtered by a name glob (`q`), paginated as `/jobs` is."""
    book = request.app[STATE].queues
    now = request.app[CLOCK]()
    pattern = request.query.get("q")
    name_matches = re.compile(fnmatch.translate(pattern)).match if pattern else None
    limit = query.integer(request, "limit", 100, 1, 1000)
    after = query.cursor(request, str)
    names = sorted(book.queues)
    start = bisect.bisect_right(names, str(after[0])) if after is not None else 0
    page = []
    for name in names[start:]:
        if name_matches is None or name_matches(name):
            page.append(name)
            if len(page) > limit:
                break
    next_cursor = None
    if len(page) > limit:
        page.pop()
        next_cursor = encode_cursor(page[-1])
    return web.json_response(
        {
            "queues": [queue_json(figures(book.queues[name], now)) for name in page],
            "next": next_cursor,
        }
    )


async def get_queue(request: web.Request) -> web.Response:
    """One queue's figures, and the runs waiting in it now (the longest waiting first)."""
    state = request.app[STATE]
    name = request.match_info["queue"]
    queue = state.queues.queues.get(name)
    if queue is None:
        raise ApiError(404, f"no queue named {name!r}")
    now = request.app[CLOCK]()
    settings = request.app[SETTINGS].runs
    shown = queue_json(figures(queue, now))
    longest = sorted(queue.waiting.items(), key=lambda item: (item[1], item[0]))
    runs = (state.find_run(run_id) for run_id, _ in longest[:WAITING_SHOWN])
    shown["longest_waiting"] = [run_json(run, now, settings) for run in runs if run is not None]
    return web.json_response(shown)


async def queue_trends(request: web.Request) -> web.Response:
    """Runs queued in a period (24h, 7d, 30d, ...) by status now, retries, success rate,
    and wait and run time p50/p95 of those finished, from the history."""
    name = request.match_info["queue"]
    period, seconds = query.period(request)
    now = request.app[CLOCK]()
    since = now - seconds
    stats = await request.app[STORE].queue_stats(name, since)
    if not stats.counts and name not in request.app[STATE].queues.queues:
        raise ApiError(404, f"no queue named {name!r}")
    counts = stats.counts
    succeeded = counts.get("succeeded", 0)
    failed = counts.get("failed", 0) + counts.get("lost", 0)
    return web.json_response(
        {
            "queue": name,
            "period": period,
            "since": rfc3339(since),
            "runs": sum(counts.values()),
            "by_status": counts,
            "retries": stats.retries,
            "success_rate": succeeded / (succeeded + failed) if succeeded + failed else None,
            "wait_seconds": {"p50": stats.wait_p50, "p95": stats.wait_p95},
            "run_seconds": {"p50": stats.run_p50, "p95": stats.run_p95},
        }
    )


async def pause_queue(request: web.Request) -> web.Response:
    """Ask the queue's workers to stop taking its tasks (admin; the next push of a worker
    of the queue takes the command in its answer)."""
    return await _queue_command(request, "pause")


async def resume_queue(request: web.Request) -> web.Response:
    """Ask the queue's workers to take its tasks again."""
    return await _queue_command(request, "resume")


async def _queue_command(request: web.Request, what: str) -> web.Response:
    book = request.app[STATE].queues
    name = request.match_info["queue"]
    if name not in book.queues:
        raise ApiError(404, f"no queue named {name!r}")
    audit.record(request, f"queue.{what}", name)
    book.command(name, {"command": what, "queue": name})
    await request.app[WRITER].durable()  # the audit entry
    return web.json_response({"queue": name, "command": what, "pending": True})


async def cancel_run(request: web.Request) -> web.Response:
    """Ask the workers of the run's queue to cancel it (revoke it; admin). The run ends when
    its worker reports it cancelled."""
    state = request.app[STATE]
    run_id = request.match_info["run_id"]
    run = state.find_run(run_id)
    if run is None:
        raise ApiError(404, f"no run {run_id!r} in flight")
    if run.status != RUNNING and run.status not in WAITING_STATUSES:
        raise ApiError(409, f"run {run_id} already finished ({run.status})")
    if run.queue is None:
        raise ApiError(
            409, f"run {run_id} names no queue: no worker of a queue can be told to cancel it"
        )
    audit.record(request, "run.cancel", run_id, job=run.job.name, queue=run.queue)
    state.queues.command(run.queue, {"command": "cancel", "run_id": run_id, "job": run.job.name})
    await request.app[WRITER].durable()
    return web.json_response(
        {"run_id": run_id, "queue": run.queue, "command": "cancel", "pending": True}
    )
