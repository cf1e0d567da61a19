"""`POST /push`: job lifecycle events in JSON, acknowledged once durable."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from batchgate.collector.alerting.lifecycle import evaluate_changes
from batchgate.collector.auth import ANONYMOUS, Denied, Token, check_push
from batchgate.collector.core.events import (
    BodyTooLarge,
    InvalidPush,
    decode_body,
    inflate,
    parse_events,
)
from batchgate.collector.core.model import Event
from batchgate.collector.core.state import needs_stored_id
from batchgate.collector.http.errors import ApiError
from batchgate.collector.http.keys import (
    BUS,
    CLOCK,
    REQUEST_METRICS,
    SETTINGS,
    STATE,
    STORE,
    WRITER,
)
from batchgate.collector.http.middlewares import identity
from batchgate.collector.live import publish_changes
from batchgate.collector.storage.writer import StorageFailing


async def push_events(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        raise ApiError(
            415,
            f"Content-Type must be application/json, not {request.content_type}",
            [{"field": "Content-Type", "reason": "must be application/json"}],
        )
    gzipped = request.headers.get("Content-Encoding", "").lower() == "gzip"
    answer = await take_push(request.app, identity(request), await request.read(), gzipped)
    return web.json_response(answer)


async def take_push(
    app: web.Application, token: Token, body: bytes, gzipped: bool
) -> dict[str, Any]:
    """A JSON push's body decoded, validated, applied and durable: the answer to send.
    ApiError when it is refused. The handler and the front door (`collector.http.front_door`)
    both answer pushes with it."""
    started = time.perf_counter()
    refuse_unless_accepting(app)
    now = app[CLOCK]()
    try:
        if gzipped:
            body = inflate(body, app[SETTINGS].max_body_bytes)
        events = parse_events(decode_body(body), now, app[SETTINGS].limits)
    except BodyTooLarge as error:
        raise ApiError(413, str(error)) from None
    except InvalidPush as invalid:
        raise ApiError(400, invalid.message, [e.as_json() for e in invalid.errors]) from None
    run_ids, duplicates = await apply_events(app, token, events, now)
    app[REQUEST_METRICS].push_seconds.observe(time.perf_counter() - started)
    return {"accepted": len(events), "duplicates": duplicates, "run_ids": run_ids}


def refuse_unless_accepting(app: web.Application) -> None:
    """A 503 while storage fails or the write queue is full: nothing is applied then."""
    writer = app[WRITER]
    if not writer.accepting:
        raise ApiError(
            503,
            f"storage is not accepting writes ({writer.error or 'write queue full'}); "
            "nothing was applied, retry later",
            headers={"Retry-After": "5"},
        )


async def apply_events(
    app: web.Application, token: Token, events: list[Event], now: float
) -> tuple[list[str], int]:
    """Apply validated events, all or none, and return once they are durable: the run id
    of each, and how many were duplicates (applied before)."""
    settings, state, writer = app[SETTINGS], app[STATE], app[WRITER]
    if token is not ANONYMOUS:
        try:
            check_push(token, sorted({event.job.name for event in events}))
        except Denied as denied:
            raise ApiError(denied.status, denied.message) from None
    # Membership, not `set - jobs.keys()`: that copies every job key on every push.
    new_jobs = sum(1 for key in {event.job for event in events} if key not in state.jobs)
    if new_jobs and len(state.jobs) + new_jobs > settings.max_jobs:
        raise ApiError(
            429,
            f"this push would create {new_jobs} jobs beyond the limit of {settings.max_jobs} "
            "(limits.max_jobs); nothing was applied",
        )

    # Bring into memory what the events refer to but memory no longer holds.
    store = app[STORE]
    missing_runs = state.run_ids_to_fetch(events)
    if missing_runs:
        state.remember_runs(await store.get_runs(sorted(missing_runs)))
    old_event_ids = state.event_ids_to_check(events)
    if old_event_ids:
        state.remember_event_ids(await store.seen_event_ids(sorted(old_event_ids)))
    conflicts = state.conflicts(events)
    if conflicts:
        raise ApiError(
            409,
            "push conflicts with stored runs; nothing applied",
            [e.as_json() for e in conflicts],
        )

    metrics = app[REQUEST_METRICS]
    run_ids = []
    changes = []
    duplicates = 0
    metrics.count_events(events)
    for event in events:
        original = state.duplicate_of(event)
        if original is not None:
            duplicates += 1
            run_ids.append(original)
            continue
        change = state.apply(event, now)
        writer.stage(change)
        if event.event_id is not None and needs_stored_id(event):
            writer.stage_seen(event.event_id, change.run.run_id, now)
        changes.append(change)
        run_ids.append(change.run.run_id)
    # Alert changes and their notifications go into the same commit as the push.
    evaluate_changes(app, changes, now)

    try:
        await writer.durable()
    except StorageFailing as error:
        raise ApiError(
            503,
            f"{error}; the push is held in memory and will be stored when storage recovers",
            headers={"Retry-After": "5"},
        ) from None
    if duplicates:
        metrics.duplicates.inc(duplicates)
    publish_changes(app[BUS], changes, now, settings.runs)
    return run_ids, duplicates
