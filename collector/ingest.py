"""The ingest service: what a push does, whichever door it came through.

The transports (the aiohttp handlers, the front door, `/ping`, and later OTLP) parse and
answer; what a change *does* is here, once: check who may make it, stage it in the live
state and the writer, evaluate the rules on it, wait until it is durable, publish it on
the live-event bus. As the Pushgateway's handlers all call one `MetricStore`, every door
calls one `Ingest`, kept under one application key.

It owns the live state, the writer, the Pushgateway groups, the bus and the push metrics,
and reaches alerting once alerting runs (it starts after the store, and survives reloads).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from batchgate.collector.alerting.service import Alerting
from batchgate.collector.auth import ANONYMOUS, Denied, Token, check_push
from batchgate.collector.core.declarations import declaration_audit
from batchgate.collector.core.events import BodyTooLarge, InvalidPush, decode_body, inflate
from batchgate.collector.core.events import parse_events as parse
from batchgate.collector.core.model import QUEUE_STATE, Event, Job
from batchgate.collector.core.queues import MAX_QUEUES
from batchgate.collector.core.state import Change, State, needs_stored_id
from batchgate.collector.groups import Groups, grouping_key
from batchgate.collector.live import EventBus, publish_changes
from batchgate.collector.observability.metrics import RequestMetrics
from batchgate.collector.otlp import ResourceBatch
from batchgate.collector.otlp.points import Rejected
from batchgate.collector.otlp.same_shape import Repeat
from batchgate.collector.pushgateway import (
    GroupingKey,
    InconsistentPushError,
    PushgatewayError,
    PushTooLargeError,
    parse_grouping_key,
)
from batchgate.collector.settings import Settings
from batchgate.collector.storage.store import Store
from batchgate.collector.storage.writer import StorageFailing, Writer

RETRY_AFTER: Final = {"Retry-After": "5"}

AT_ONCE: Final = frozenset({"started", "finished", "revived"})
"""Changes evaluated as they happen: a run starting, ending (failed, lost...) or coming back.
Progress and heartbeats, most of the traffic, are left to the next pass (their job's
generation moved, so the pass evaluates it): what they change (stuck, resource, duration)
is measured in minutes, and evaluating every one of them would cost pushes a third of their
throughput with 50 rules. Unless their job has alerts, which they may resolve: those are
evaluated at once."""


class Refused(Exception):
    """A change refused, with the HTTP status that says why (every transport speaks HTTP's
    statuses). Nothing of it was applied, except for a 503 once applied: then it is held
    in memory and stored when storage recovers."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers


@dataclass(frozen=True, slots=True)
class Accepted:
    """A push applied and durable: the run id of each event, and how many were duplicates."""

    accepted: int
    duplicates: int
    run_ids: list[str]
    commands: list[dict[str, str]] | None = None
    """Commands waiting for the workers of the queues the push named (`POST
    /queues/{queue}/pause`, `/runs/{id}/cancel`): a worker's integration carries them out."""

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "accepted": self.accepted, "duplicates": self.duplicates, "run_ids": self.run_ids
        }  # fmt: skip
        if self.commands:
            shown["commands"] = self.commands
        return shown


class Ingest:
    """Every change to what batchgate knows goes through here (see the module's text)."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        state: State,
        writer: Writer,
        groups: Groups,
        store: Store,
        bus: EventBus,
        metrics: RequestMetrics,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.state = state
        self.writer = writer
        self.groups = groups
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.alerting: Alerting | None = None
        """Set once alerting runs; None before, and in an app without it."""
        self.not_leader: Callable[[], Refused] | None = None
        """Set while this node is a standby, or has stopped leading: what every change is
        refused with (a 503 naming the leader). None while it leads."""

    # Job-aware pushes: POST /push, /ping, the front door.

    async def push_body(self, token: Token, body: bytes, gzipped: bool) -> Accepted:
        """A JSON push's body (one event or an array) decoded, validated, applied and
        durable. Refused (400 naming each bad field, 413, 409, 429, 503) otherwise."""
        started = time.perf_counter()
        self.refuse_unless_accepting()
        now = self.clock()
        try:
            if gzipped:
                body = inflate(body, self.settings.max_body_bytes)
            events = parse(decode_body(body), now, self.settings.limits)
        except BodyTooLarge as error:
            raise Refused(413, str(error)) from None
        except InvalidPush as invalid:
            raise Refused(400, invalid.message, [e.as_json() for e in invalid.errors]) from None
        accepted = await self.push_events(token, events, now)
        self.metrics.push_seconds.observe(time.perf_counter() - started)
        return accepted

    def parse_events(self, item: Any, now: float) -> list[Event]:
        """Events from decoded JSON (what a transport built), or Refused with a 400."""
        try:
            return parse(item, now, self.settings.limits)
        except InvalidPush as invalid:
            raise Refused(400, invalid.message, [e.as_json() for e in invalid.errors]) from None

    def refuse_unless_leader(self) -> None:
        """A 503 naming the leader on a node that does not lead: nothing is applied."""
        if self.not_leader is not None:
            raise self.not_leader()

    def refuse_unless_accepting(self) -> None:
        """A 503 while storage fails or the write queue is full, or on a standby: nothing
        is applied then."""
        self.refuse_unless_leader()
        writer = self.writer
        if not writer.accepting:
            raise Refused(
                503,
                f"storage is not accepting writes ({writer.error or 'write queue full'}); "
                "nothing was applied, retry later",
                headers=RETRY_AFTER,
            )

    async def push_events(self, token: Token, events: list[Event], now: float) -> Accepted:
        """Apply validated events, all or none, and return once they are durable."""
        self.refuse_unless_leader()
        state, writer = self.state, self.writer
        snapshots = [event for event in events if event.type == QUEUE_STATE]
        if snapshots:
            self._check_snapshots(token, snapshots)
            events = [event for event in events if event.type != QUEUE_STATE]
            if not events:
                self._apply_snapshots(snapshots)
                return Accepted(len(snapshots), 0, [], self._commands_for(snapshots))
        if token is not ANONYMOUS:
            try:
                check_push(token, sorted({event.job.name for event in events}))
            except Denied as denied:
                raise Refused(denied.status, denied.message) from None
        # Membership, not `set - jobs.keys()`: that copies every job key on every push.
        new_jobs = sum(1 for key in {event.job for event in events} if key not in state.jobs)
        limit = self.settings.max_jobs
        if new_jobs and len(state.jobs) + new_jobs > limit:
            raise Refused(
                429,
                f"this push would create {new_jobs} jobs beyond the limit of {limit} "
                "(limits.max_jobs); nothing was applied",
            )

        # Bring into memory what the events refer to but memory no longer holds.
        missing_runs = state.run_ids_to_fetch(events)
        if missing_runs:
            state.remember_runs(await self.store.get_runs(sorted(missing_runs)))
        old_event_ids = state.event_ids_to_check(events)
        if old_event_ids:
            state.remember_event_ids(await self.store.seen_event_ids(sorted(old_event_ids)))
        conflicts = state.conflicts(events)
        if conflicts:
            raise Refused(
                409,
                "push conflicts with stored runs; nothing applied",
                [e.as_json() for e in conflicts],
            )

        run_ids = []
        changes = []
        duplicates = 0
        self.metrics.count_events(events)
        for event in events:
            original = state.duplicate_of(event)
            if original is not None:
                duplicates += 1
                run_ids.append(original)
                continue
            known = state.jobs.get(event.job) if event.declaration is not None else None
            previous = known.declaration if known is not None else None
            change = state.apply(event, now)
            if event.declaration is not None and change.job.declaration is event.declaration:
                writer.stage_audit(declaration_audit(token.name, change.job, previous, now))
            writer.stage(change)
            if event.event_id is not None and needs_stored_id(event):
                writer.stage_seen(event.event_id, change.run.run_id, now)
            changes.append(change)
            run_ids.append(change.run.run_id)
        # Alert changes and their notifications go into the same commit as the push.
        self.evaluate_changes(changes, now)

        try:
            await writer.durable()
        except StorageFailing as error:
            raise Refused(
                503,
                f"{error}; the push is held in memory and will be stored when storage recovers",
                headers=RETRY_AFTER,
            ) from None
        if duplicates:
            self.metrics.duplicates.inc(duplicates)
        publish_changes(self.bus, changes, now, self.settings.runs)
        if snapshots:
            self._apply_snapshots(snapshots)
        commands = self._commands_for(events, snapshots) if state.queues.commands else None
        return Accepted(len(events) + len(snapshots), duplicates, run_ids, commands)

    def _commands_for(self, *pushed: list[Event]) -> list[dict[str, str]] | None:
        """The commands waiting for the queues these events name (taken: given once)."""
        names = {event.queue for events in pushed for event in events if event.queue}
        return self.state.queues.take_commands(names) or None

    def _check_snapshots(self, token: Token, snapshots: list[Event]) -> None:
        """A broker's snapshots may be pushed by a token whose job patterns match the queue
        names, and may not make more queues than the book keeps."""
        names = {str(event.queue) for event in snapshots}
        if token is not ANONYMOUS:
            try:
                check_push(token, sorted(names))
            except Denied as denied:
                raise Refused(denied.status, denied.message) from None
        if not self.state.queues.room_for(names):
            raise Refused(
                429,
                f"this push would keep more than {MAX_QUEUES} queues; nothing was applied",
            )

    def _apply_snapshots(self, snapshots: list[Event]) -> None:
        """Snapshots are kept in memory only: a broker integration sends them periodically."""
        self.metrics.count_events(snapshots)
        for event in snapshots:
            assert event.queue is not None  # parse_events made it so
            assert event.snapshot is not None
            self.state.queues.report(event.queue, event.at, event.snapshot)

    # The Pushgateway's groups.

    async def push_group(
        self,
        token: Token,
        method: str,
        path: str,
        body: bytes,
        content_type: str | None,
        gzipped: bool,
    ) -> tuple[int, str]:
        """A push of one group (`path`: the grouping key, still percent-encoded) applied and
        durable, with the Pushgateway's semantics: the status to answer, and its message
        ("" on success)."""
        started = time.perf_counter()
        self.refuse_unless_leader()
        writer, groups = self.writer, self.groups
        if not writer.accepting:
            reason = writer.error or "write queue full"
            return 503, f"storage is not accepting writes ({reason}); nothing was applied"
        registry = groups.registry
        limit = self.settings.max_groups
        now = self.clock()
        try:
            # The registry reads the key itself; read it here too only when someone must be
            # checked or the group limit is reached, so an open push pays nothing for it.
            if token is not ANONYMOUS or len(registry) >= limit:
                key = parse_grouping_key(path)
                check_push(token, [dict(key)["job"]])
                if key not in registry and len(registry) >= limit:
                    return (
                        429,
                        f"the limit of {limit} groups is reached (limits.max_groups); "
                        "delete groups or raise it",
                    )
            result = registry.push(method, path, body, content_type, gzipped, now)
        except Denied as denied:
            return denied.status, denied.message
        except InconsistentPushError as error:
            if error.group_changed and error.key is not None:
                groups.changed(error.key)  # its push_failure_time_seconds moved
            return error.status, error.message
        except PushgatewayError as error:
            return error.status, error.message
        job = groups.changed(result.key)
        if job is not None:
            self.evaluate_if_alerting(job, now)
        refused = await self.not_durable()
        if refused:
            return 503, refused
        self.metrics.pushgateway_seconds.observe(time.perf_counter() - started)
        return 200, ""

    async def push_otlp(
        self, token: Token, batches: Sequence[ResourceBatch | Repeat]
    ) -> list[Rejected]:
        """An OTLP export's resources (translated, or repeats of their group's last export:
        `otlp.same_shape`) stored in their groups and durable: the points refused, each with
        its reason (OTLP's partial success). Refused (401/403, 413 for a first resource
        beyond the series limit, 429, 503): nothing was stored."""
        started = time.perf_counter()
        self.refuse_unless_accepting()
        now = self.clock()
        if token is not ANONYMOUS:
            try:
                check_push(token, sorted({dict(batch.key)["job"] for batch in batches}))
            except Denied as denied:
                raise Refused(denied.status, denied.message) from None
        groups, limit = self.groups, self.settings.max_groups
        new_groups = sum(1 for batch in batches if batch.key not in groups.registry)
        if new_groups and len(groups.registry) + new_groups > limit:
            raise Refused(
                429,
                f"this export would create {new_groups} groups beyond the limit of {limit} "
                "(limits.max_groups); nothing was applied",
                headers=RETRY_AFTER,
            )
        rejected: list[Rejected] = []
        for position, batch in enumerate(batches):
            try:
                job, refused = groups.push_otlp(batch, now)
            except PushTooLargeError as error:
                message = f"{dict(batch.key)['job']}: {error.message}"
                if position == 0:
                    raise Refused(413, message) from None
                # Resources before it are stored: a partial success says what was not.
                points = batch.points if isinstance(batch, Repeat) else len(batch.points)
                rejected.append(Rejected(points, message))
                continue
            rejected.extend(refused)
            if job is not None:
                self.evaluate_if_alerting(job, now)
        refused_durable = await self.not_durable()
        if refused_durable:
            raise Refused(503, refused_durable, headers=RETRY_AFTER)
        self.metrics.otlp_seconds.observe(time.perf_counter() - started)
        return rejected

    def delete_group(self, token: Token, path: str) -> GroupingKey | None:
        """Remove exactly this grouping key (staged; see `not_durable`): the key if it
        existed, None if not. PushgatewayError or Refused when the path or token won't do."""
        self.refuse_unless_leader()
        key = parse_grouping_key(path)
        try:
            check_push(token, [dict(key)["job"]])
        except Denied as denied:
            raise Refused(denied.status, denied.message) from None
        return key if self.groups.delete(key, self.clock()) else None

    def wipe_groups(self) -> int:
        """Remove every group (staged; see `not_durable`); returns how many there were."""
        self.refuse_unless_leader()
        return self.groups.wipe(self.clock())

    async def not_durable(self) -> str | None:
        """Wait until what is staged is durable: None, or why it is not."""
        try:
            await self.writer.durable()
        except StorageFailing as error:
            return f"{error}; retry later"
        return None

    # Jobs.

    async def delete_jobs(self, jobs: Iterable[Job]) -> list[dict[str, Any]]:
        """Forget jobs, their groups and their history, resolve their alerts; once durable,
        say so on the bus. Returns what was deleted (name and labels of each)."""
        self.refuse_unless_leader()
        jobs = list(jobs)
        now = self.clock()
        deleted = []
        for job in jobs:
            self.groups.delete(grouping_key(job.key), now)
            self.state.delete_jobs(job.name, job.key)
            self.writer.stage_deleted(job)
            deleted.append({"job": job.name, "labels": dict(job.labels)})
        if self.alerting is not None:
            self.alerting.forget_jobs((job.key for job in jobs), now)
        await self.writer.durable()
        for entry in deleted:
            self.bus.publish("job.deleted", entry)
        return deleted

    # Periodic work.

    def sweep(self, now: float | None = None) -> int:
        """Mark silent runs lost, expire stale Pushgateway groups, forget old event ids,
        and commit now and then on a quiet server (`Writer.keep_alive`); returns how many
        runs were lost."""
        state, writer = self.state, self.writer
        now = self.clock() if now is None else now
        self.groups.expire(now)
        changes = [state.mark_lost(job, run) for job, run in list(state.lost_runs(now))]
        for change in changes:
            writer.stage(change)
        self.evaluate_changes(changes, now)
        publish_changes(self.bus, changes, now, state.settings)
        state.expire_seen(now)
        state.queues.drop_idle(now)
        writer.keep_alive()
        return len(changes)

    async def apply_retention(self, now: float | None = None) -> int:
        """Delete history past its retention, in the store and in memory; returns runs
        deleted."""
        retention = self.settings.retention
        now = self.clock() if now is None else now
        deleted = await self.writer.maintain(
            now - retention.max_age, retention.max_runs_per_job, now - retention.event_ids
        )
        self.state.forget_runs(deleted)
        return len(deleted)

    # The rules, on what changed.

    def evaluate_changes(self, changes: Iterable[Change], now: float) -> None:
        """Evaluate the jobs whose runs started, ended or came back, and those with alerts."""
        service = self.alerting
        if service is None:
            return
        has_alerts = service.engine.has_alerts
        jobs = {
            id(change.job): change.job
            for change in changes
            if change.kind in AT_ONCE or has_alerts(change.job.key)
        }
        if jobs:
            service.evaluate_jobs(jobs.values(), now)

    def evaluate_if_alerting(self, job: Job, now: float) -> None:
        """Evaluate a job at once if it has alerts, which the change may resolve (a group's
        push ends its `absent`); a job with none waits for the next pass."""
        service = self.alerting
        if service is not None and service.engine.has_alerts(job.key):
            service.evaluate_jobs((job,), now)
