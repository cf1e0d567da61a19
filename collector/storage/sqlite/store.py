"""The SQLite store: one database file in WAL mode; the only part of the server that speaks SQL.

Writes go to the writer process (`collector.storage.sqlite.writer`), which owns the one write
connection: a whole group commit is one request to it, and SQLite's work runs on another
core than the event loop, without the GIL between them. Reads go through aiosqlite
connections in the server, which WAL lets proceed while the writer commits.

Durability: with `durability="process"` (the default) a commit is written to the WAL
before it returns, so a killed server (`kill -9`) loses nothing acknowledged; with
`durability="fsync"` each group commit is also fsynced, which survives power loss too.
If the writer process dies, the commit in flight fails (the writer retries it) and the next
request starts a new process; a retried batch is applied once (see `sqlite_writer.commit`).
"""

from __future__ import annotations

import itertools
import json
import operator
import time
import uuid
from collections import defaultdict
from dataclasses import fields
from pathlib import Path
from typing import Any

import aiosqlite

from batchgate.collector.core.model import Job, Run, RunSummary
from batchgate.collector.core.records import (
    AlertEventRecord,
    AuditRecord,
    GroupEventRecord,
    JobRecord,
    OutboxRecord,
    PointRecord,
    QueueHistory,
    QueueStats,
    RunRecord,
    RunStats,
    SeenRecord,
    WriteBatch,
)
from batchgate.collector.storage.sqlite.schema import DATABASE_FILE
from batchgate.collector.storage.sqlite.wal import WalIndex
from batchgate.collector.storage.sqlite.writer_process import StoreUnavailable, WriterProcess
from batchgate.collector.storage.store import (
    COUNT_BUCKET,
    QUEUE_DAY,
    QUEUE_HOUR,
    WAIT_OF_FINISHED,
    WAITING,
    AlertingState,
    Restored,
    added_counts,
    first_whole_bucket,
    job_from_record,
    job_key_of,
    last_finished_to_read,
    last_runs_to_read,
    queue_history_queries,
    run_from_record,
)

__all__ = [
    "DATABASE_FILE",
    "WAL_CHECKPOINT_BYTES",
    "WAL_LIMIT_BYTES",
    "SqliteStore",
    "StoreUnavailable",
]

WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024
"""Checkpoint and empty the write-ahead log once it is this large (SQLite's own default
threshold); see `sqlite.writer.WalKeeper`."""
WAL_LIMIT_BYTES = 64 * 1024 * 1024
"""The size the write-ahead log is kept under: past half of it, checkpoints wait for the
readers that hold the log; past it, /health says degraded."""

_RUN_COLUMNS = RunRecord._fields
_JOB_COLUMNS = JobRecord._fields
_POINT_COLUMNS = PointRecord._fields
_SELECT_RUN = (
    "SELECT " + ", ".join(f"r.{c}" for c in _RUN_COLUMNS) + ", j.name, j.labels "
    "FROM runs r JOIN jobs j ON j.id = r.job_id"
)
_BATCH_FIELDS = tuple(f.name for f in fields(WriteBatch))
_FINISHED_ORDER = operator.attrgetter("finished_at", "run_id")
"""A job's recent runs, oldest first, as `runs_finished` orders them."""
_QUEUE_HISTORY = queue_history_queries("CAST(finished_at / 60 AS INTEGER)", "?")


def _wire(batch: WriteBatch) -> dict[str, object]:
    """The batch as the writer process takes it: its non-empty fields, records as plain
    tuples (they pickle ten times faster than NamedTuples)."""
    wire: dict[str, object] = {}
    for name in _BATCH_FIELDS:
        value = getattr(batch, name)
        if value:
            holds_tuples = isinstance(value, list) and isinstance(value[0], tuple)
            wire[name] = list(map(tuple, value)) if holds_tuples else value
    return wire


class SqliteStore:
    """The embedded store. See `collector.storage.store.Store` for the contract of each method."""

    def __init__(
        self,
        data_dir: Path,
        durability: str = "process",
        readers: int = 2,
        busy_timeout: float = 5.0,
        wal_checkpoint_bytes: int = WAL_CHECKPOINT_BYTES,
        wal_limit_bytes: int = WAL_LIMIT_BYTES,
    ) -> None:
        self.path = data_dir / DATABASE_FILE
        self._wal_index = WalIndex(self.path)
        self._busy_ms = int(busy_timeout * 1000)
        self.wal_checkpoint_bytes = wal_checkpoint_bytes
        self.wal_limit_bytes = wal_limit_bytes
        self.writer_process = WriterProcess(
            self.path, durability, self._busy_ms, wal_checkpoint_bytes, wal_limit_bytes
        )
        self._session = uuid.uuid4().hex
        """Names this server's batches in the database (see `sqlite_writer.commit`)."""
        self._batches = 0
        self._unconfirmed: tuple[WriteBatch, int] | None = None
        """The batch whose commit last failed, and its number: a retry keeps the number."""
        self._reader_count = readers
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = itertools.cycle(range(readers))

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        await self.writer_process.start()
        for _ in range(self._reader_count):
            reader = await aiosqlite.connect(self.path)
            await reader.execute("PRAGMA query_only = ON")
            await reader.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self._readers.append(reader)
        return await self._restore(now, recent_runs, seen_window)

    async def close(self) -> None:
        for reader in self._readers:
            await reader.close()
        self._readers.clear()
        self._wal_index.close()
        await self.writer_process.close()

    def wal_bytes(self) -> int:
        return self._wal_index.log_bytes()

    async def housekeeping(self) -> None:
        """Empty a write-ahead log left past its checkpoint size. The writer process
        checkpoints after each commit (`sqlite.writer.WalKeeper`); this is for a log whose
        last checkpoint a reader kept from starting it over, when no commit has come
        since (the writer process knows: `WalKeeper.settle`)."""
        if self.wal_bytes() >= self.wal_checkpoint_bytes:
            await self.writer_process.call("checkpoint")

    def _reader(self) -> aiosqlite.Connection:
        return self._readers[next(self._next_reader)]

    # -- writes (called by the writer only) ----------------------------------------------

    async def commit(self, batch: WriteBatch) -> None:
        if self._unconfirmed is not None and self._unconfirmed[0] is batch:
            number = self._unconfirmed[1]
        else:
            self._batches += 1
            number = self._batches
        self._unconfirmed = (batch, number)
        await self.writer_process.call("commit", self._session, number, _wire(batch))
        self._unconfirmed = None

    async def prune(
        self, older_than: float, max_runs_per_job: int, seen_before: float
    ) -> list[str]:
        deleted: list[str] = await self.writer_process.call(
            "prune", older_than, max_runs_per_job, seen_before
        )
        return deleted

    # -- reads ---------------------------------------------------------------------------

    async def check(self) -> None:
        async with self._reader().execute("SELECT count(*) FROM sqlite_master") as cursor:
            await cursor.fetchone()

    async def alerting_state(self) -> AlertingState:
        reader = self._reader()
        alerts = [
            json.loads(data) for (data,) in await reader.execute_fetchall("SELECT data FROM alerts")
        ]
        outbox = [
            OutboxRecord(outbox_id, receiver, alert_id, due_at, json.loads(data))
            for outbox_id, receiver, alert_id, due_at, data in await reader.execute_fetchall(
                "SELECT id, receiver, alert_id, due_at, data FROM outbox ORDER BY id"
            )
        ]
        silences = [
            json.loads(data)
            for (data,) in await reader.execute_fetchall("SELECT data FROM silences")
        ]
        return AlertingState(alerts, outbox, silences)

    async def get_runs(self, run_ids: list[str]) -> list[Run]:
        runs: list[Run] = []
        for chunk in _chunks(run_ids, 500):
            marks = ", ".join("?" * len(chunk))
            rows = await self._reader().execute_fetchall(
                f"{_SELECT_RUN} WHERE r.run_id IN ({marks})", chunk
            )
            runs.extend(_run_from_joined_row(row) for row in rows)
        return runs

    async def timeline(self, run_id: str) -> list[PointRecord]:
        rows = await self._reader().execute_fetchall(
            f"SELECT {', '.join(_POINT_COLUMNS)} FROM run_points WHERE run_id = ? "
            "ORDER BY at, rowid",
            (run_id,),
        )
        return [PointRecord(*row) for row in rows]

    async def list_runs(
        self,
        job_ids: list[int],
        statuses: list[str] | None,
        since: float | None,
        until: float | None,
        before: tuple[float, str] | None,
        limit: int,
    ) -> list[Run]:
        if not job_ids:
            return []
        where = [f"r.job_id IN ({', '.join('?' * len(job_ids))})"]
        params: list[Any] = list(job_ids)
        if statuses:
            where.append(f"r.status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if since is not None:
            where.append("r.started_at >= ?")
            params.append(since)
        if until is not None:
            where.append("r.started_at < ?")
            params.append(until)
        if before is not None:
            where.append("(r.started_at < ? OR (r.started_at = ? AND r.run_id < ?))")
            params.extend((before[0], before[0], before[1]))
        params.append(limit)
        rows = await self._reader().execute_fetchall(
            f"{_SELECT_RUN} WHERE {' AND '.join(where)} "
            "ORDER BY r.started_at DESC, r.run_id DESC LIMIT ?",
            params,
        )
        return [_run_from_joined_row(row) for row in rows]

    async def run_counts(self, since: float) -> dict[str, int]:
        first = first_whole_bucket(since)
        reader = self._reader()
        whole = await reader.execute_fetchall(
            "SELECT status, sum(runs) FROM run_counts WHERE bucket >= ? GROUP BY status", (first,)
        )
        before = await reader.execute_fetchall(
            "SELECT status, count(*) FROM runs WHERE started_at >= ? AND started_at < ? "
            "GROUP BY status",
            (since, first * COUNT_BUCKET),
        )
        return added_counts(whole, before)

    async def run_stats(self, job_ids: list[int] | None, since: float) -> RunStats:
        if job_ids is not None and not job_ids:
            return RunStats({})
        jobs = f"job_id IN ({', '.join('?' * len(job_ids))}) AND " if job_ids is not None else ""
        params: list[Any] = [*(job_ids or []), since]
        reader = self._reader()
        rows = await reader.execute_fetchall(
            f"SELECT status, count(*) FROM runs WHERE {jobs}started_at >= ? GROUP BY status",
            params,
        )
        counts: dict[str, int] = {status: count for status, count in rows}  # noqa: C416
        succeeded = f"{jobs}status = 'succeeded' AND duration IS NOT NULL AND started_at >= ?"
        rows = await reader.execute_fetchall(
            "SELECT count(*), avg(duration), max(duration), "
            "total(done) FILTER (WHERE done IS NOT NULL), "
            f"total(duration) FILTER (WHERE done IS NOT NULL) FROM runs WHERE {succeeded}",
            params,
        )
        count, average, longest, records_done, records_seconds = next(iter(rows))
        stats = RunStats(counts, average, None, None, longest, records_done, records_seconds)
        if count:
            # The runs_by_outcome index walks durations in order: no sort, nothing fetched.
            # An OFFSET is a walk too, so the p95 is walked to from the longest run.
            for quantile in (0.5, 0.95):
                position = quantile * (count - 1)
                low = int(position)
                if quantile <= 0.5:
                    order, limit, offset = "", 2, low
                elif low == count - 1:
                    order, limit, offset = " DESC", 1, 0
                else:
                    order, limit, offset = " DESC", 2, count - 2 - low
                rows = await reader.execute_fetchall(
                    f"SELECT duration FROM runs WHERE {succeeded} "
                    f"ORDER BY duration{order} LIMIT {limit} OFFSET ?",
                    [*params, offset],
                )
                values = sorted(row[0] for row in rows)
                high = values[-1]
                value = values[0] + (high - values[0]) * (position - low)
                if quantile == 0.5:
                    stats.duration_p50 = value
                else:
                    stats.duration_p95 = value
        return stats

    async def queue_stats(self, queue: str, since: float) -> QueueStats:
        reader = self._reader()
        where = "queue = ? AND started_at >= ?"
        params = [queue, since]
        rows = await reader.execute_fetchall(
            "SELECT status, count(*), total(max(coalesce(attempt, 1) - 1, 0)) FROM runs "
            f"WHERE {where} GROUP BY status",
            params,
        )
        stats = QueueStats({status: count for status, count, _ in rows})
        stats.retries = int(sum(retries for _, _, retries in rows))
        finished = f"{where} AND duration IS NOT NULL"
        stats.wait_p50, stats.wait_p95 = await self._quantiles(
            WAIT_OF_FINISHED, f"{finished} AND queued_at IS NOT NULL", params
        )
        stats.run_p50, stats.run_p95 = await self._quantiles("duration", finished, params)
        return stats

    async def _quantiles(
        self, value: str, where: str, params: list[Any]
    ) -> tuple[float | None, float | None]:
        """The p50 and p95 of `value` over the runs `where` says, interpolated between the
        two nearest (an ORDER BY walk to each: SQLite has no percentile function)."""
        reader = self._reader()
        ((count,),) = await reader.execute_fetchall(
            f"SELECT count(*) FROM runs WHERE {where}", params
        )
        found: list[float | None] = [None, None]
        for index, quantile in enumerate((0.5, 0.95)):
            if not count:
                break
            position = quantile * (count - 1)
            low = int(position)
            rows = await reader.execute_fetchall(
                f"SELECT {value} AS v FROM runs WHERE {where} ORDER BY v LIMIT 2 OFFSET ?",
                [*params, low],
            )
            values = [row[0] for row in rows]
            found[index] = values[0] + (values[-1] - values[0]) * (position - low)
        return found[0], found[1]

    async def seen_event_ids(self, event_ids: list[str]) -> list[SeenRecord]:
        found: list[SeenRecord] = []
        for chunk in _chunks(event_ids, 500):
            rows = await self._reader().execute_fetchall(
                "SELECT event_id, run_id, received_at FROM seen_events "
                f"WHERE event_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.extend(SeenRecord(*row) for row in rows)
        return found

    async def group_history(self, limit: int) -> list[GroupEventRecord]:
        rows = await self._reader().execute_fetchall(
            "SELECT at, event, labels, last_push_at, series FROM pushgateway_group_events "
            "ORDER BY at DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [GroupEventRecord(*row) for row in rows]

    async def audit(self, limit: int, before: float | None) -> list[AuditRecord]:
        rows = await self._reader().execute_fetchall(
            "SELECT at, who, action, target, details FROM audit "
            + ("WHERE at < ? " if before is not None else "")
            + "ORDER BY at DESC, rowid DESC LIMIT ?",
            (before, limit) if before is not None else (limit,),
        )
        return [AuditRecord(*row) for row in rows]

    async def alert_history(
        self,
        job: str | None,
        rule: str | None,
        since: float | None,
        until: float | None,
        before: tuple[float, int] | None,
        limit: int,
    ) -> list[tuple[int, AlertEventRecord]]:
        where, arguments = [], []
        for clause, value in (("job = ?", job), ("rule = ?", rule), ("at >= ?", since),
                              ("at < ?", until)):  # fmt: skip
            if value is not None:
                where.append(clause)
                arguments.append(value)
        if before is not None:
            where.append("(at < ? OR (at = ? AND id < ?))")
            arguments.extend((before[0], before[0], before[1]))
        rows = await self._reader().execute_fetchall(
            f"SELECT id, {', '.join(AlertEventRecord._fields)} FROM alert_events "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY at DESC, id DESC LIMIT ?",
            (*arguments, limit),
        )
        return [(row[0], AlertEventRecord(*row[1:])) for row in rows]

    # -- restore -------------------------------------------------------------------------

    async def _restore(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        reader = self._reader()
        seconds: dict[str, float] = {}
        started = time.perf_counter()

        def step(name: str) -> None:
            nonlocal started
            seconds[name] = time.perf_counter() - started
            started = time.perf_counter()

        jobs: dict[int, Job] = {}
        last_ids: dict[str, Job] = {}
        for row in await reader.execute_fetchall(f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs"):
            record = JobRecord(*row)
            job = job_from_record(record, recent_runs)
            jobs[job.id] = job
            if record.last_run_id is not None:
                last_ids[record.last_run_id] = job
        step("jobs")
        for row in await reader.execute_fetchall(f"{_SELECT_RUN} WHERE r.status = 'running'"):
            run = _run_from_joined_row(row)
            job = jobs[row[1]]
            job.running[run.run_id] = run
        for row in await reader.execute_fetchall(f"{_SELECT_RUN} WHERE {WAITING}"):
            run = _run_from_joined_row(row)
            jobs[row[1]].waiting[run.run_id] = run
        step("running runs")
        unread = last_runs_to_read(last_ids)
        for run in await self.get_runs(list(unread)):
            unread[run.run_id].last_run = run
        step("last runs")
        # The newest `recent_runs` finished runs of every job, in one query that reads
        # only those (runs_finished walks each job's runs from its newest). Each job's few
        # are put in order here: cheaper than SQL sorting all of them into one order.
        recent: defaultdict[int, list[RunSummary]] = defaultdict(list)
        for row in await reader.execute_fetchall(
            "SELECT r.job_id, r.run_id, r.status, r.started_at, r.finished_at, r.duration, "
            "r.done FROM jobs j JOIN runs r ON r.rowid IN ("
            "SELECT rowid FROM runs WHERE job_id = j.id AND status != 'running' "
            "AND finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, run_id DESC LIMIT ?)",
            (recent_runs,),
        ):
            recent[row[0]].append(RunSummary._make(row[1:]))
        newest_finished: dict[str, Job] = {}
        for job_id, summaries in recent.items():
            summaries.sort(key=_FINISHED_ORDER)
            job = jobs[job_id]
            job.recent.extend(summaries)
            newest_finished[summaries[-1].run_id] = job
        step("recent runs")
        unread = last_finished_to_read(newest_finished)
        for run in await self.get_runs(list(unread)):
            unread[run.run_id].last_finished = run
        step("last finished runs")
        seen_since = now - seen_window
        seen = [
            SeenRecord(*row)
            for row in await reader.execute_fetchall(
                "SELECT event_id, run_id, received_at FROM seen_events "
                "WHERE received_at >= ? ORDER BY received_at",
                (seen_since,),
            )
        ]
        groups = [
            row[0]
            for row in await reader.execute_fetchall(
                "SELECT snapshot FROM pushgateway_groups ORDER BY grouping_key"
            )
        ]
        step("event ids and groups")
        counts, retries, timings = _QUEUE_HISTORY
        queues = QueueHistory(
            [tuple(row) for row in await reader.execute_fetchall(counts, (now - QUEUE_DAY,))],
            [tuple(row) for row in await reader.execute_fetchall(retries, (now - QUEUE_DAY,))],
            [tuple(row) for row in await reader.execute_fetchall(timings, (now - QUEUE_HOUR,))],
        )
        step("queue history")
        ((alive_at,),) = await reader.execute_fetchall("SELECT alive_at FROM writer_state")
        return Restored(list(jobs.values()), seen, seen_since, groups, alive_at, seconds, queues)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run_from_joined_row(row: Any) -> Run:
    """A stored run: its columns in RunRecord's order, then its job's name and labels."""
    name, labels = row[len(_RUN_COLUMNS) :]
    return run_from_record(RunRecord(*row[: len(_RUN_COLUMNS)]), job_key_of(name, labels))
