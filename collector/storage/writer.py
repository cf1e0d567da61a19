"""The one writer: stages changes made on the event loop and commits them in groups.

Handlers stage what changed and await `durable()`. The writer takes everything staged so
far, snapshots it into one `WriteBatch`, commits it in one transaction, and wakes every
waiter of that batch at once, so the write rate does not depend on one fsync per push.
A run changed many times before its commit is written once, in its latest state.

When the store fails, the batch is kept and retried with backoff: nothing applied in
memory is dropped, `error` says what is wrong, and handlers refuse new pushes (503)
until a commit succeeds again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from batchgate.collector.core.model import Job, Run
from batchgate.collector.core.records import (
    AlertEventRecord,
    AuditRecord,
    GroupEventRecord,
    OutboxRecord,
    PointRecord,
    SeenRecord,
    SilenceRecord,
    Thinning,
    WriteBatch,
)
from batchgate.collector.core.state import Change
from batchgate.collector.storage.store import (
    Store,
    alert_record,
    job_record,
    point_record,
    run_record,
)
from batchgate.rules import Alert

log = logging.getLogger(__name__)


ALIVE_EVERY = 10.0
"""Seconds after which a quiet server commits anyway, to record that it is still listening
(each commit does): the next start then knows when this server stopped hearing its jobs."""


class StorageFailing(Exception):
    """The store did not make a write durable in time; the client should retry."""


class Writer:
    def __init__(
        self,
        store: Store,
        max_pending: int = 200_000,
        patience: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.max_pending = max_pending
        self.patience = patience
        """Seconds a batch may take to become durable before its waiters get StorageFailing."""
        self._clock = clock
        self._taken_at = clock()
        self._deleted: list[int] = []
        self._jobs: dict[int, Job] = {}
        self._runs: dict[str, tuple[Run, int, bool]] = {}
        """Staged runs: the run, its job id, and whether more than its progress changed."""
        self._points: list[PointRecord] = []
        self._thinnings: list[Thinning] = []
        self._seen: list[SeenRecord] = []
        self._groups: dict[str, Callable[[], str | None]] = {}
        """Pushgateway groups by key text: how to snapshot each when the batch is taken."""
        self._groups_wiped = False
        self._group_events: list[GroupEventRecord] = []
        self._audit: list[AuditRecord] = []
        self._alerts: dict[str, Alert] = {}
        self._deleted_alerts: set[str] = set()
        self._alert_events: list[AlertEventRecord] = []
        self._notifications: dict[int, OutboxRecord] = {}
        self._finished_notifications: set[int] = set()
        self._silences: dict[str, SilenceRecord] = {}
        self._deleted_silences: set[str] = set()
        self._staged: asyncio.Future[None] | None = None
        """Resolved when what is staged now is durable; fails with StorageFailing when that
        takes longer than `patience` (what was staged stays staged)."""
        self._in_flight: asyncio.Future[None] | None = None
        self._in_flight_size = 0
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.error: str | None = None
        """Why the last commit failed, while the store is failing; None when healthy."""
        self.failing_since: float | None = None
        self.commits = 0
        self.committed_records = 0
        self.failed_commits = 0

    @property
    def store(self) -> Store:
        """The store this writer commits to."""
        return self._store

    # -- staging (event loop only, synchronous) ------------------------------------------

    def stage(self, change: Change) -> None:
        """Stage what applying one event changed."""
        if change.kind == "ignored":
            return
        job = change.job
        if change.job_changed:
            self._jobs[job.id] = job
        staged = self._runs.get(change.run.run_id)
        lifecycle = change.kind != "progress" or (staged is not None and staged[2])
        self._runs[change.run.run_id] = (change.run, job.id, lifecycle)
        if change.sample is not None:
            self._points.append(point_record(change.sample))
        if change.thinning is not None:
            self._thinnings.append(change.thinning)
        self._touch()

    def stage_seen(self, event_id: str, run_id: str, received_at: float) -> None:
        self._seen.append(SeenRecord(event_id, run_id, received_at))
        self._touch()

    def stage_deleted(self, job: Job) -> None:
        """Delete the job with its runs and timelines, dropping anything of it still staged."""
        self._jobs.pop(job.id, None)
        doomed = {run_id for run_id, (_, job_id, _) in self._runs.items() if job_id == job.id}
        for run_id in doomed:
            del self._runs[run_id]
        if doomed:
            self._points = [p for p in self._points if p.run_id not in doomed]
        self._deleted.append(job.id)
        self._touch()

    def stage_group(self, key_text: str, snapshot: Callable[[], str | None]) -> None:
        """Stage a Pushgateway group; `snapshot()` is called when the batch is taken (so many
        pushes to one group cost one snapshot) and returns None when the group is gone."""
        self._groups[key_text] = snapshot
        self._touch()

    def stage_groups_wiped(self) -> None:
        self._groups.clear()
        self._groups_wiped = True
        self._touch()

    def stage_group_event(self, record: GroupEventRecord) -> None:
        self._group_events.append(record)
        self._touch()

    def stage_audit(self, record: AuditRecord) -> None:
        self._audit.append(record)
        self._touch()

    # -- alerting (staged like the rest, so they commit with the pushes that caused them) --

    def stage_alerts(self, changed: Mapping[str, Alert], removed: Iterable[str]) -> None:
        """Stage an evaluation's alert changes: `removed` ids are deleted, `changed` alerts
        saved as they are when the batch is taken."""
        for alert_id in removed:
            self._alerts.pop(alert_id, None)
            self._deleted_alerts.add(alert_id)
        self._alerts.update(changed)
        self._touch()

    def stage_alert_events(self, records: Iterable[AlertEventRecord]) -> None:
        self._alert_events.extend(records)
        self._touch()

    def stage_notifications(self, records: Iterable[OutboxRecord]) -> None:
        for record in records:
            self._notifications[record.id] = record
        self._touch()

    def stage_finished_notifications(self, ids: Iterable[int]) -> None:
        """Outbox rows delivered or given up: delete them (or never write them)."""
        for outbox_id in ids:
            if self._notifications.pop(outbox_id, None) is None:
                self._finished_notifications.add(outbox_id)
        self._touch()

    def stage_silence(self, record: SilenceRecord) -> None:
        self._deleted_silences.discard(record.id)
        self._silences[record.id] = record
        self._touch()

    def stage_deleted_silences(self, ids: Iterable[str]) -> None:
        for silence_id in ids:
            self._silences.pop(silence_id, None)
            self._deleted_silences.add(silence_id)
        self._touch()

    def keep_alive(self) -> None:
        """Commit, if nothing has for `ALIVE_EVERY` seconds: every commit records that the
        server is listening (called by the sweep)."""
        if self._clock() - self._taken_at >= ALIVE_EVERY:
            self._touch()

    @property
    def pending(self) -> int:
        """Records staged or being committed: the write queue's length."""
        staged = (
            len(self._deleted) + len(self._jobs) + len(self._runs) + len(self._points)
            + len(self._thinnings) + len(self._seen) + len(self._groups) + len(self._group_events)
            + len(self._alerts) + len(self._deleted_alerts) + len(self._alert_events)
            + len(self._notifications)
            + len(self._finished_notifications) + len(self._silences)
            + len(self._deleted_silences)
            + len(self._audit)
        )  # fmt: skip
        return staged + self._in_flight_size

    @property
    def accepting(self) -> bool:
        """False while the store fails or the queue is full: new pushes should get a 503."""
        return self.error is None and self.pending < self.max_pending

    def _touch(self) -> None:
        if self._staged is None or self._staged.done():
            loop = asyncio.get_running_loop()
            acknowledged = loop.create_future()
            # One deadline per batch, rather than a wait_for() in every request.
            deadline = loop.call_later(self.patience, self._give_up_waiting, acknowledged)
            # Committed in time: drop the deadline, or a timer and this future would stay
            # alive for `patience` seconds after every batch.
            acknowledged.add_done_callback(lambda _: deadline.cancel())
            self._staged = acknowledged
            self._wakeup.set()

    def _give_up_waiting(self, acknowledged: asyncio.Future[None]) -> None:
        if not acknowledged.done():
            reason = self.error or "the write queue is behind"
            acknowledged.set_exception(
                StorageFailing(f"not yet durable after {self.patience:g}s: {reason}")
            )
            acknowledged.exception()  # retrieved: waiters that left must not warn

    # -- waiting -------------------------------------------------------------------------

    async def durable(self) -> None:
        """Return once everything staged so far is committed. Raises StorageFailing when that
        takes longer than `patience`; what was staged stays staged and is committed when
        the store recovers."""
        waiting = self._staged or self._in_flight
        if waiting is not None:
            await waiting

    # -- the loop ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="batchgate-writer")

    async def stop(self, grace: float = 10.0) -> None:
        """Commit what is staged, then stop. Gives up after `grace` seconds if the store fails."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            log.error("writer stopped with %d records not committed: %s", self.pending, self.error)
            self._task.cancel()

    def abandon(self, reason: str) -> None:
        """Fail every waiter now with StorageFailing(reason): what they wait for will not be
        committed here (a leader that lost its lease). Call it after `stop`."""
        for waiting in (self._staged, self._in_flight):
            if waiting is not None and not waiting.done():
                waiting.set_exception(StorageFailing(reason))
                waiting.exception()  # retrieved: waiters that left must not warn

    async def maintain(
        self, older_than: float, max_runs_per_job: int, seen_before: float
    ) -> list[str]:
        """Run retention between commits, never during one; returns the deleted run ids."""
        async with self._lock:
            return await self._store.prune(older_than, max_runs_per_job, seen_before)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._staged is None:
                if self._stopping:
                    return
                continue
            # One turn of the event loop first: the requests woken with this one (their
            # data read in the same turn) stage their records too, and share this commit.
            # Under 16 connections of single pushes: 10-14 pushes a commit instead of 6-7,
            # and each commit costs a round trip to the writer process.
            await asyncio.sleep(0)
            batch, done = self._take()
            self._in_flight, self._in_flight_size = done, len(batch)
            await self._commit(batch)
            self._in_flight, self._in_flight_size = None, 0
            if not done.done():
                done.set_result(None)
            if self._staged is not None:
                self._wakeup.set()

    def _take(self) -> tuple[WriteBatch, asyncio.Future[None]]:
        batch = WriteBatch(
            deleted_jobs=self._deleted,
            jobs=[job_record(job) for job in self._jobs.values()],
            runs=[run_record(run, job_id) for run, job_id, full in self._runs.values() if full],
            run_progress=[
                run_record(run, job_id) for run, job_id, full in self._runs.values() if not full
            ],
            points=self._points,
            thinnings=self._thinnings,
            seen=self._seen,
            groups_wiped=self._groups_wiped,
            groups=[(key, snapshot()) for key, snapshot in self._groups.items()],
            group_events=self._group_events,
            audit=self._audit,
            deleted_alerts=list(self._deleted_alerts),
            alerts=[alert_record(alert) for alert in self._alerts.values()],
            alert_events=self._alert_events,
            notifications=list(self._notifications.values()),
            finished_notifications=list(self._finished_notifications),
            silences=list(self._silences.values()),
            deleted_silences=list(self._deleted_silences),
            alive_at=self._clock(),
        )
        self._taken_at = batch.alive_at
        done = self._staged
        assert done is not None
        self._deleted, self._jobs, self._runs = [], {}, {}
        self._points, self._thinnings, self._seen = [], [], []
        self._groups, self._groups_wiped, self._group_events = {}, False, []
        self._audit = []
        self._alerts, self._deleted_alerts, self._alert_events = {}, set(), []
        self._notifications, self._finished_notifications = {}, set()
        self._silences, self._deleted_silences = {}, set()
        self._staged = None
        return batch, done

    async def _commit(self, batch: WriteBatch) -> None:
        delay = 0.05
        while True:
            try:
                async with self._lock:
                    await self._store.commit(batch)
            except Exception as error:
                self.failed_commits += 1
                if self.error is None:
                    self.failing_since = time.time()
                    log.error("store commit failed, retrying: %s", error)
                self.error = f"{type(error).__name__}: {error}"
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self.error is not None:
                log.warning("store recovered after %d failed commits", self.failed_commits)
            self.error = None
            self.failing_since = None
            self.commits += 1
            self.committed_records += len(batch)
            return
