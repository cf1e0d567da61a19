"""What each dashboard page shows, built from the live state and the history.

Jobs and runs look as the JSON API shows them (`collector.core.api_json`), plus what only a
page needs: a key to find a job's row when a live event arrives, a sparkline, links.
What the alerts sections show is `alert_views`'; a Pushgateway group's own status and
runs long past their usual duration are `statuses`'. The groups page is filled in the
browser from `GET /api/v1/metrics`.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from batchgate.collector.alerting.api_json import alert_event_json
from batchgate.collector.core.api_json import job_json, point_json, run_json, trends_json
from batchgate.collector.core.model import (
    BATCH,
    GROUP_KINDS,
    JOB_STATUSES,
    RUN_STATUSES,
    Job,
    JobKey,
    Run,
)
from batchgate.collector.core.records import PointRecord, RunStats
from batchgate.collector.core.state import State, StateSettings
from batchgate.collector.http.web import charts, formatting, statuses
from batchgate.collector.http.web.statuses import GROUP_STATUSES, PUSH_FAILED, STALE
from batchgate.collector.storage.store import Store

PROBLEMS = ("failed", "stuck", "late", "lost", PUSH_FAILED, STALE)
"""Statuses that need someone: the jobs filter's `problems`, the overview's attention."""
SHOWN_STATUSES = JOB_STATUSES + GROUP_STATUSES
"""Every status a job's row may show (a group's own among them)."""
STATUS_ORDER = {
    s: i for i, s in enumerate(("failed", PUSH_FAILED, "lost", "stuck", "late", STALE, "running"))
}
TREND_PERIODS = (("24h", 86400.0), ("7d", 7 * 86400.0), ("30d", 30 * 86400.0))
JOBS_PAGE_SIZE = 1000
ROW_CACHE_SIZE = 4 * JOBS_PAGE_SIZE
"""Jobs whose row key and links (which never change) are kept built."""
RUNS_PAGE_SIZE = 50
CHART_RUNS = 200
ALERT_EVENTS = 10
"""Lines of the alert history on the job page."""
STRIP_RUNS = 60
EVENTS_SHOWN = 300
_GLOB = re.compile(r"[*?\[]")
"""What makes text a glob (the jobs filter; `GET /events?job=`)."""
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def job_key(name: str, labels: Mapping[str, str]) -> str:
    """The key a page finds a job's row by; dashboard.js computes the same from an event."""
    pairs = sorted(labels.items())
    return json.dumps(
        [name, [list(pair) for pair in pairs]], ensure_ascii=False, separators=(",", ":")
    )


def job_href(name: str, labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    items = labels.items() if isinstance(labels, Mapping) else labels
    query = urlencode([("label", f"{k}={v}") for k, v in sorted(items)])
    return f"ui/jobs/{quote(name, safe='')}" + (f"?{query}" if query else "")


def run_href(run_id: str) -> str:
    return f"ui/runs/{quote(run_id, safe='')}"


def exact_glob(name: str) -> str:
    """A glob that matches `name` alone (`GET /events?job=` takes a glob): its `[`, `*`
    and `?` each in a set of its own, so that `backup [db1]` follows that job's events."""
    return _GLOB.sub(r"[\g<0>]", name)


def _ratio(run: Mapping[str, Any] | None) -> float | None:
    if run is None or run["status"] != "running":
        return None
    ratio: float | None = run["progress_ratio"]
    return ratio


def job_row(job: Job, now: float, settings: StateSettings, stale: bool = False) -> dict[str, Any]:
    """A job as the jobs table shows it: its JSON, its key, links and a duration sparkline;
    a Pushgateway group with its own status (`stale`: an `absent` rule fires for it); the
    running last run marked when it is long past the job's usual duration."""
    row = job_json(job, now, settings)
    row["status"] = statuses.group_status(job, row["status"], stale)
    row["key"], row["href"] = _row_links(job.key)
    last = row["last_run"]
    row["run_href"] = run_href(last["run_id"]) if last else None
    row["ratio"] = _ratio(last)
    if last is not None and job.last_run is not None:
        last["long"] = statuses.long_run(job.last_run, statuses.usual_duration(job), now)
    row["sparkline"] = charts.sparkline(tuple((s.duration, s.status) for s in job.recent))
    row["problem"] = row["status"] in PROBLEMS
    return row


@functools.lru_cache(maxsize=ROW_CACHE_SIZE)
def _row_links(key: JobKey) -> tuple[str, str]:
    """A job's row key and the address of its page."""
    return job_key(key.name, dict(key.labels)), job_href(key.name, key.labels)


@dataclass(frozen=True, slots=True)
class JobFilter:
    """The jobs table's filters, read leniently from the query string: a page never fails
    on a bad filter, it says what it ignored."""

    text: str = ""
    statuses: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    sort: str = "name"
    offset: int = 0
    limit: int = JOBS_PAGE_SIZE
    ignored: tuple[str, ...] = ()
    queue: str = ""
    """Only jobs with a run in flight, or a last run, in this queue."""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> JobFilter:
        ignored: list[str] = []
        raw_status = query.get("status", "")
        statuses: list[str] = []
        for status in (s.strip() for s in raw_status.split(",") if s.strip()):
            if status == "problems":
                statuses.extend(PROBLEMS)
            elif status in SHOWN_STATUSES:
                statuses.append(status)
            else:
                ignored.append(f"status {status!r}")
        labels: list[tuple[str, str]] = []
        for item in re.split(r"[\s,]+", query.get("label", "").strip()):
            if not item:
                continue
            name, sep, value = item.partition("=")
            if sep and _LABEL_NAME.fullmatch(name):
                labels.append((name, value))
            else:
                ignored.append(f"label filter {item!r} (write name=value)")
        sort = query.get("sort", "name")
        if sort not in ("name", "status", "recent"):
            ignored.append(f"sort {sort!r}")
            sort = "name"
        return cls(
            text=query.get("q", "").strip(),
            statuses=tuple(dict.fromkeys(statuses)),
            labels=tuple(labels),
            sort=sort,
            offset=_whole(query.get("offset"), 0, 0, 10**9),
            limit=_whole(query.get("limit"), JOBS_PAGE_SIZE, 1, 5000),
            ignored=tuple(ignored),
            queue=query.get("queue", "").strip(),
        )

    @property
    def status_param(self) -> str:
        if set(self.statuses) == set(PROBLEMS) and len(self.statuses) == len(PROBLEMS):
            return "problems"
        return ",".join(self.statuses)

    @property
    def label_param(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.labels)

    def name_matcher(self) -> Any:
        """A predicate on (name, label values), or None when there is no text to match."""
        if not self.text:
            return None
        if _GLOB.search(self.text):
            pattern = re.compile(fnmatch.translate(self.text), re.IGNORECASE)
            return lambda key: pattern.match(key.name) is not None
        needle = self.text.lower()
        return lambda key: (
            needle in key.name.lower() or any(needle in value.lower() for _, value in key.labels)
        )

    def query(self, **changes: Any) -> str:
        """The query string of these filters with some changed (for links)."""
        values = {
            "q": self.text,
            "status": self.status_param,
            "label": self.label_param,
            "sort": "" if self.sort == "name" else self.sort,
            "offset": str(self.offset) if self.offset else "",
            "limit": str(self.limit) if self.limit != JOBS_PAGE_SIZE else "",
            "queue": self.queue,
        }
        values.update({k: str(v) for k, v in changes.items()})
        return urlencode({k: v for k, v in values.items() if v and v != "0"})


def _whole(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return min(max(value, low), high)


def jobs_page(
    state: State, now: float, wanted: JobFilter, stale: frozenset[JobKey] = frozenset()
) -> dict[str, Any]:
    """The jobs table: filtered, sorted, one page of rows, and counts by status. `stale`:
    the groups an `absent` rule calls stale."""
    settings = state.settings
    matcher = wanted.name_matcher()
    wanted_statuses = set(wanted.statuses)
    selected: list[tuple[Job, str]] = []
    for key in state.sorted_keys():
        if matcher is not None and not matcher(key):
            continue
        if wanted.labels and not _has_labels(key, wanted.labels):
            continue
        job = state.jobs[key]
        if wanted.queue and not _in_queue(job, wanted.queue):
            continue
        status = job.status(now, settings.stuck_after, settings.lost_after)
        if job.kind in GROUP_KINDS:
            status = statuses.group_status(job, status, key in stale)
        if wanted_statuses and status not in wanted_statuses:
            continue
        selected.append((job, status))
    if wanted.sort == "status":
        selected.sort(key=lambda pair: STATUS_ORDER.get(pair[1], len(STATUS_ORDER)))
    elif wanted.sort == "recent":
        selected.sort(key=lambda pair: -(pair[0].last_seen_at or 0.0))
    page = selected[wanted.offset : wanted.offset + wanted.limit]
    following = wanted.offset + wanted.limit
    previous = max(0, wanted.offset - wanted.limit)
    return {
        "filters": wanted,
        "statuses": SHOWN_STATUSES,
        "rows": [job_row(job, now, settings, job.key in stale) for job, _ in page],
        "matched": len(selected),
        "total": len(state.jobs),
        "first": wanted.offset + 1 if page else 0,
        "last": wanted.offset + len(page),
        "next_href": _jobs_href(wanted.query(offset=following))
        if following < len(selected)
        else None,
        "previous_href": _jobs_href(wanted.query(offset=previous)) if wanted.offset > 0 else None,
    }


def _in_queue(job: Job, queue: str) -> bool:
    """Whether a run of the job in flight, or its last run, went through `queue`."""
    runs = (*job.running.values(), *job.waiting.values(), job.last_run, job.last_finished)
    return any(run is not None and run.queue == queue for run in runs)


def _jobs_href(query: str) -> str:
    return f"ui/jobs?{query}" if query else "ui/jobs"


def _has_labels(key: JobKey, wanted: tuple[tuple[str, str], ...]) -> bool:
    have = dict(key.labels)
    return all(have.get(name) == value for name, value in wanted)


async def overview_page(
    state: State, store: Store, now: float, stale: frozenset[JobKey] = frozenset()
) -> dict[str, Any]:
    """Counts of jobs by status and of Pushgateway groups by theirs (`stale`: the groups an
    `absent` rule calls stale), the day's success rate and run rate, what runs (those long
    past their usual duration first), what needs a look."""
    settings = state.settings
    by_status = dict.fromkeys(JOB_STATUSES, 0)
    groups = dict.fromkeys((*GROUP_STATUSES, "late", "unknown"), 0)
    running: list[tuple[Run, statuses.LongRun | None]] = []
    attention: list[Job] = []
    for job in state.jobs.values():
        status = job.status(now, settings.stuck_after, settings.lost_after)
        if job.kind == BATCH:
            by_status[status] += 1
        else:
            status = statuses.group_status(job, status, job.key in stale)
            groups[status] = groups.get(status, 0) + 1
        if job.running:
            usual = statuses.usual_duration(job)
            running.extend((r, statuses.long_run(r, usual, now)) for r in job.running.values())
        if status in PROBLEMS:
            attention.append(job)
    # Runs long past their usual duration first, the longest past it first; then the newest.
    running.sort(
        key=lambda pair: (
            pair[1] is None,
            -pair[1].times if pair[1] is not None else -pair[0].started_at,
        )
    )
    attention.sort(key=lambda job: -(job.last_seen_at or 0.0))
    stats = trends_json(RunStats(await store.run_counts(now - 86400.0)), len(running))
    return {
        "by_status": by_status,
        "jobs": sum(by_status.values()),
        "groups": groups,
        "group_count": sum(groups.values()),
        "running_count": len(running),
        "long_count": sum(1 for _, long in running if long is not None),
        "running": [_run_view(run, now, settings, long) for run, long in running[:15]],
        "attention": [job_row(job, now, settings, job.key in stale) for job in attention[:15]],
        "attention_count": len(attention),
        "day": stats,
        "runs_per_minute": stats["runs"] / (86400.0 / 60.0),
    }


def _run_view(
    run: Run, now: float, settings: StateSettings, long: statuses.LongRun | None = None
) -> dict[str, Any]:
    view = run_json(run, now, settings)
    view["href"] = run_href(run.run_id)
    view["job_href"] = job_href(run.job.name, run.job.labels)
    view["key"] = job_key(run.job.name, view["labels"])
    view["ratio"] = _ratio(view)
    view["long"] = long
    return view


async def job_page(
    state: State, store: Store, now: float, name: str, labels: Mapping[str, str],
    query: Mapping[str, str], schedules: Callable[[Job], list[dict[str, Any]]],
) -> dict[str, Any] | None:  # fmt: skip
    """A job (every label set matching `labels`): runs in flight, trends, charts, history,
    and what its `schedules` (the `missed` rules' expectations of each label set) are."""
    settings = state.settings
    jobs = [job for job in state.jobs_named(name) if _has_labels(job.key, tuple(labels.items()))]
    if not jobs:
        return None
    ids = [job.id for job in jobs]
    usual = {job.key: statuses.usual_duration(job) for job in jobs if job.running}
    running = sorted(
        (run for job in jobs for run in job.running.values()), key=lambda run: -run.started_at
    )
    trends = []
    for period, seconds in TREND_PERIODS:
        stats = await store.run_stats(ids, now - seconds)
        trends.append({"period": period, **trends_json(stats, len(running))})
    status_filter = [s for s in query.get("status", "").split(",") if s in RUN_STATUSES]
    before = _cursor(query.get("before"))
    history = await store.list_runs(
        ids, status_filter or None, None, None, before, RUNS_PAGE_SIZE + 1
    )
    next_href = None
    if len(history) > RUNS_PAGE_SIZE:
        history.pop()
        last = history[-1]
        params = [("label", f"{k}={v}") for k, v in sorted(labels.items())]
        if status_filter:
            params.append(("status", ",".join(status_filter)))
        params.append(("before", f"{last.started_at!r}~{last.run_id}"))
        next_href = f"ui/jobs/{quote(name, safe='')}?{urlencode(params)}"
    recent = await store.list_runs(ids, None, None, None, None, CHART_RUNS)
    alert_events = [
        alert_event_json(row_id, event)
        for row_id, event in await store.alert_history(name, None, None, None, None, ALERT_EVENTS)
        if all(json.loads(event.job_labels).get(k) == v for k, v in labels.items())
    ]
    recent_finished = [state.runs.get(run.run_id, run) for run in recent]
    recent_finished = [run for run in recent_finished if run.status != "running"]
    return {
        "name": name,
        "labels": dict(labels),
        "label_sets": [
            job_row(job, now, settings) | {"schedules": schedules(job), "declared": job.declaration}
            for job in jobs
        ],
        "several": len(jobs) > 1,
        "running": [
            _run_view(run, now, settings, statuses.long_run(run, usual.get(run.job), now))
            for run in running
        ],
        "trends": trends,
        "history": [_run_view(state.runs.get(run.run_id, run), now, settings) for run in history],
        "history_status": ",".join(status_filter),
        "paged": before is not None,
        "first_page_href": job_href(name, labels),
        "next_href": next_href,
        "duration_chart": charts.duration_chart(
            [_run_point(run) for run in recent_finished],
            formatting.duration,
            formatting.short_time,
        ),
        "strip": [
            _run_view(run, now, settings)
            for run in reversed([state.runs.get(run.run_id, run) for run in recent[:STRIP_RUNS]])
        ],
        "stats": _duration_stats(jobs),
        "alert_events": alert_events,
        "events_filter": exact_glob(name),
    }


def _cursor(raw: str | None) -> tuple[float, str] | None:
    if not raw:
        return None
    started, sep, run_id = raw.partition("~")
    try:
        return (float(started), run_id) if sep else None
    except ValueError:
        return None


def _run_point(run: Run) -> charts.RunPoint:
    title = (
        f"{run.status} · {formatting.duration(run.duration)} · "
        f"{formatting.clock_time(run.started_at)}"
    )
    if run.message:
        title += f" · {run.message[:120]}"
    return charts.RunPoint(
        run.run_id,
        run.status,
        run.started_at,
        run.duration,
        title,
        run_href(run.run_id),
        str(run.job),
    )


def _duration_stats(jobs: list[Job]) -> dict[str, Any]:
    count = sum(job.duration_count for job in jobs)
    counts: dict[str, int] = {}
    for job in jobs:
        for status, n in job.counts.items():
            counts[status] = counts.get(status, 0) + n
    last_success = max((j.last_success_at for j in jobs if j.last_success_at), default=None)
    last_failure = max((j.last_failure_at for j in jobs if j.last_failure_at), default=None)
    return {
        "runs": counts,
        "finished": sum(counts.values()),
        "avg": sum(job.duration_sum for job in jobs) / count if count else None,
        "last_success_at": last_success,
        "last_failure_at": last_failure,
    }


async def run_page(state: State, store: Store, now: float, run_id: str) -> dict[str, Any] | None:
    """A run: its state, progress and resources over time, custom metrics and events."""
    run = state.find_run(run_id)
    if run is None:
        found = await store.get_runs([run_id])
        if not found:
            return None
        run = found[0]
    points = await store.timeline(run_id)
    job = state.jobs.get(run.job)
    long = statuses.long_run(run, statuses.usual_duration(job) if job else None, now)
    view = _run_view(run, now, state.settings, long)
    return {
        "run": view,
        "charts": _timeline_charts(points, run),
        "events": [point_json(point) for point in points[-EVENTS_SHOWN:]][::-1],
        "events_total": len(points),
        "events_filter": exact_glob(run.job.name),
    }


def _timeline_charts(points: list[PointRecord], run: Run) -> list[charts.Chart]:
    """Progress (percent, or done/total), CPU and memory over the run's timeline."""
    progress: list[tuple[float, float | None]] = []
    cpu: list[tuple[float, float | None]] = []
    memory: list[tuple[float, float | None]] = []
    total = None
    for point in points:
        total = point.total if point.total is not None else total
        if point.percent is not None:
            progress.append((point.at, min(100.0, point.percent)))
        elif point.done is not None and total:
            progress.append((point.at, min(100.0, 100.0 * point.done / total)))
        if point.cpu_percent is not None:
            cpu.append((point.at, point.cpu_percent))
        if point.memory_bytes is not None:
            memory.append((point.at, point.memory_bytes))
    span = (points[-1].at - points[0].at) if points else 0.0
    x_format = formatting.short_time if span > 86400 else _time_of_day
    return [
        charts.time_series(
            progress,
            "progress",
            lambda v: f"{v:.0f}%",
            x_format,
            y_max=100.0,
            css="series-progress",
        ),
        charts.time_series(cpu, "CPU", lambda v: f"{v:.3g}%", x_format, css="series-cpu"),
        charts.time_series(memory, "memory", formatting.size, x_format, css="series-memory"),
    ]


def _time_of_day(timestamp: float) -> str:
    return formatting.clock_time(timestamp)[11:19]
