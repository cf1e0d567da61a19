"""`/jobs`, `/jobs/{job}`, its runs and trends, `DELETE /jobs/{job}`, and `/summary`."""

from __future__ import annotations

import bisect
import fnmatch
import re

from aiohttp import web

from batchgate.collector.core.api_json import (
    encode_cursor,
    job_detail_json,
    job_json,
    rfc3339,
    run_json,
    trends_json,
)
from batchgate.collector.core.model import (
    BATCH,
    JOB_STATUSES,
    OTLP,
    PUSHGATEWAY,
    RUN_STATUSES,
    Job,
    JobKey,
)
from batchgate.collector.core.records import RunStats
from batchgate.collector.groups import grouping_key
from batchgate.collector.http.errors import ApiError, field_error
from batchgate.collector.http.handlers import audit, query
from batchgate.collector.http.keys import (
    ALERTING,
    CLOCK,
    GROUPS,
    INGEST,
    SETTINGS,
    STATE,
    STORE,
)
from batchgate.collector.pushgateway import GroupSummary


async def list_jobs(request: web.Request) -> web.Response:
    """Jobs in name order, filtered by status, name glob (`q`), labels and kind."""
    state, settings = request.app[STATE], request.app[SETTINGS].runs
    now = request.app[CLOCK]()
    statuses = query.statuses(request, JOB_STATUSES)
    pattern = request.query.get("q")
    name_matches = re.compile(fnmatch.translate(pattern)).match if pattern else None
    kind = request.query.get("kind")
    if kind is not None and kind not in (BATCH, PUSHGATEWAY, OTLP):
        raise field_error("kind", f"must be {BATCH}, {PUSHGATEWAY} or {OTLP}")
    wanted = query.labels(request)
    limit = query.integer(request, "limit", 100, 1, 1000)
    after = query.cursor(request, str, list)
    keys = state.sorted_keys()
    start = 0
    if after is not None:
        name, labels = after
        assert isinstance(name, str)  # query.cursor checked them
        assert isinstance(labels, list)
        start = bisect.bisect_right(keys, JobKey(name, tuple(tuple(pair) for pair in labels)))
    page: list[Job] = []
    for key in keys[start:]:
        if name_matches is not None and not name_matches(key.name):
            continue
        if wanted and not query.matches_labels(key, wanted):
            continue
        job = state.jobs[key]
        if kind is not None and job.kind != kind:
            continue
        if (
            statuses is not None
            and job.status(now, settings.stuck_after, settings.lost_after) not in statuses
        ):
            continue
        page.append(job)
        if len(page) > limit:
            break
    next_cursor = None
    if len(page) > limit:
        page.pop()
        last = page[-1].key
        next_cursor = encode_cursor(last.name, [list(pair) for pair in last.labels])
    return web.json_response(
        {
            "jobs": [job_json(job, now, settings, _group_of(request, job)) for job in page],
            "next": next_cursor,
        }
    )


def _group_of(request: web.Request, job: Job) -> GroupSummary | None:
    """The Pushgateway group of the job's key: the one a job of kind `pushgateway` stands
    for, or one a batch job also pushes."""
    return request.app[GROUPS].registry.get(grouping_key(job.key))


def _jobs_of(request: web.Request) -> list[Job]:
    """Every label set of the job named in the path that matches the label filters; or 404."""
    name = request.match_info["job"]
    wanted = query.labels(request)
    jobs = [j for j in request.app[STATE].jobs_named(name) if query.matches_labels(j.key, wanted)]
    if not jobs:
        suffix = f" with labels {wanted}" if wanted else ""
        raise ApiError(404, f"no job named {name!r}{suffix}")
    return jobs


async def get_job(request: web.Request) -> web.Response:
    jobs = _jobs_of(request)
    now = request.app[CLOCK]()
    settings = request.app[SETTINGS].runs
    alerting = request.app[ALERTING]
    label_sets = []
    for job in jobs:
        detail = job_detail_json(job, now, settings, _group_of(request, job))
        detail["schedules"] = alerting.schedules(job, now)
        label_sets.append(detail)
    return web.json_response({"job": jobs[0].name, "label_sets": label_sets})


async def job_runs(request: web.Request) -> web.Response:
    """The job's runs, newest first, filtered by status and start time, paginated."""
    jobs = _jobs_of(request)
    app = request.app
    now, settings, state = app[CLOCK](), app[SETTINGS].runs, app[STATE]
    statuses = query.statuses(request, RUN_STATUSES)
    since = query.timestamp(request, "since")
    until = query.timestamp(request, "until")
    limit = query.integer(request, "limit", 50, 1, 1000)
    before = query.cursor(request, (int, float), str)
    runs = await app[STORE].list_runs(
        [job.id for job in jobs],
        statuses,
        since,
        until,
        (float(before[0]), str(before[1])) if before is not None else None,  # type: ignore[arg-type]
        limit + 1,
    )
    next_cursor = None
    if len(runs) > limit:
        runs.pop()
        next_cursor = encode_cursor(runs[-1].started_at, runs[-1].run_id)
    # Memory holds the freshest state of running runs and last runs.
    fresh = [state.runs.get(run.run_id, run) for run in runs]
    return web.json_response(
        {"runs": [run_json(run, now, settings) for run in fresh], "next": next_cursor}
    )


async def job_trends(request: web.Request) -> web.Response:
    """Runs, success rate, duration avg/p50/p95/max and records per second over a period."""
    jobs = _jobs_of(request)
    period, seconds = query.period(request)
    now = request.app[CLOCK]()
    since = now - seconds
    stats = await request.app[STORE].run_stats([job.id for job in jobs], since)
    return web.json_response(
        {
            "job": jobs[0].name,
            "period": period,
            "since": rfc3339(since),
            **trends_json(stats, sum(len(job.running) for job in jobs)),
        }
    )


async def delete_job(request: web.Request) -> web.Response:
    """Forget a job (every label set, or those matching `label=` filters) and its history."""
    jobs = _jobs_of(request)
    for job in jobs:  # staged first: the entries commit with the deletion
        audit.record(request, "job.delete", str(job.key), kind=job.kind)
    deleted = await request.app[INGEST].delete_jobs(jobs)
    return web.json_response({"deleted": deleted})


async def summary(request: web.Request) -> web.Response:
    """Jobs by status, runs in flight, and the success rate and run rate over a period."""
    app = request.app
    state, settings = app[STATE], app[SETTINGS].runs
    now = app[CLOCK]()
    period, seconds = query.period(request)
    by_status = dict.fromkeys(JOB_STATUSES, 0)
    for job in state.jobs.values():
        by_status[job.status(now, settings.stuck_after, settings.lost_after)] += 1
    counts = await app[STORE].run_counts(now - seconds)
    trends = trends_json(RunStats(counts), sum(len(job.running) for job in state.jobs.values()))
    return web.json_response(
        {
            "jobs": len(state.jobs),
            "jobs_by_status": by_status,
            "running_runs": trends["running"],
            "waiting_runs": sum(len(job.waiting) for job in state.jobs.values()),
            "retries": sum(job.retries for job in state.jobs.values()),
            "period": period,
            "runs": trends["runs"],
            "success_rate": trends["success_rate"],
            "runs_per_minute": trends["runs"] / (seconds / 60.0),
        }
    )
