"""The SQLite store: one database file in WAL mode; the only module that speaks SQL.

Writes run on one dedicated thread with its own connection: a whole group commit is one
function call there, so a batch costs one thread hop whatever it holds. Reads go through
aiosqlite connections, which WAL lets proceed while the writer commits.

Durability: with `durability="process"` (the default) a commit is written to the WAL
before it returns, so a killed process (`kill -9`) loses nothing acknowledged; with
`durability="fsync"` each group commit is also fsynced, which survives power loss too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosqlite

from collector.model import DURATION_BUCKETS, Job, JobKey, Run, RunSummary
from collector.store import (
    AlertingState,
    AuditRecord,
    GroupEventRecord,
    JobRecord,
    OutboxRecord,
    PointRecord,
    Restored,
    RunRecord,
    RunStats,
    SeenRecord,
    WriteBatch,
)

DATABASE_FILE = "batchgate.db"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen_at REAL,
        last_start_at REAL,
        last_success_at REAL,
        last_failure_at REAL,
        last_finished_at REAL,
        last_duration REAL,
        last_run_id TEXT,
        counts TEXT NOT NULL,
        duration_buckets TEXT NOT NULL,
        duration_sum REAL NOT NULL,
        duration_count INTEGER NOT NULL,
        UNIQUE (name, labels)
    );
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        job_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        duration REAL,
        last_event_at REAL NOT NULL,
        last_progress_at REAL NOT NULL,
        percent REAL, done REAL, total REAL, errors REAL,
        cpu_percent REAL, memory_bytes REAL, io_read_bytes REAL, io_write_bytes REAL,
        metrics TEXT,
        message TEXT,
        exit_code INTEGER,
        lost_after REAL,
        samples INTEGER NOT NULL,
        sample_level INTEGER NOT NULL,
        last_sample_at REAL
    );
    CREATE INDEX runs_by_job ON runs (job_id, started_at, run_id);
    CREATE INDEX runs_by_outcome ON runs (job_id, status, duration, started_at);
    CREATE INDEX runs_by_start ON runs (started_at);
    CREATE INDEX runs_running ON runs (job_id) WHERE status = 'running';
    CREATE TABLE run_points (
        run_id TEXT NOT NULL,
        seq INTEGER,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        percent REAL, done REAL, total REAL, errors REAL,
        cpu_percent REAL, memory_bytes REAL, io_read_bytes REAL, io_write_bytes REAL,
        metrics TEXT,
        message TEXT,
        exit_code INTEGER
    );
    CREATE INDEX run_points_by_run ON run_points (run_id, at);
    CREATE TABLE seen_events (
        event_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        received_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX seen_events_by_time ON seen_events (received_at);
    """,
    # 2: Pushgateway groups.
    """
    CREATE TABLE pushgateway_groups (
        grouping_key TEXT PRIMARY KEY,
        snapshot TEXT NOT NULL
    );
    CREATE TABLE pushgateway_group_events (
        at REAL NOT NULL,
        event TEXT NOT NULL,
        labels TEXT NOT NULL,
        last_push_at REAL,
        series INTEGER NOT NULL
    );
    CREATE INDEX pushgateway_group_events_by_time ON pushgateway_group_events (at);
    """,
    # 3: alerting. An alert is its AlertBook record (JSON) by id; the outbox holds each
    # notification until it is delivered or given up; silences in Alertmanager's shape.
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        receiver TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        due_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        ends_at REAL NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: the audit log of admin actions.
    """
    CREATE TABLE audit (
        at REAL NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT
    );
    CREATE INDEX audit_by_time ON audit (at);
    """,
]

_RUN_COLUMNS = RunRecord._fields
_JOB_COLUMNS = JobRecord._fields
_POINT_COLUMNS = PointRecord._fields


def _upsert(table: str, columns: tuple[str, ...], key: str, fixed: tuple[str, ...] = ()) -> str:
    """INSERT, or UPDATE all but the key and the `fixed` columns. Leaving indexed columns
    that never change out of the SET spares SQLite rewriting their index entries."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key and c not in fixed)
    marks = ", ".join("?" * len(columns))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_UPSERT_JOB = _upsert("jobs", _JOB_COLUMNS, "id")
_UPSERT_RUN = _upsert("runs", _RUN_COLUMNS, "run_id", fixed=("job_id", "started_at"))
_UPDATE_RUN_PROGRESS = (
    "UPDATE runs SET "
    + ", ".join(
        f"{column} = ?{position}"
        for position, column in enumerate(_RUN_COLUMNS, start=1)
        if column not in ("run_id", "job_id", "started_at", "status", "finished_at", "duration")
    )
    + " WHERE run_id = ?1"
)
"""For runs whose status did not change since their last commit (so their row exists): a
plain UPDATE, binding the whole record by position, that leaves runs_by_outcome alone."""
_INSERT_POINT = (
    f"INSERT INTO run_points ({', '.join(_POINT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_POINT_COLUMNS))})"
)
_SELECT_RUN = (
    "SELECT " + ", ".join(f"r.{c}" for c in _RUN_COLUMNS) + ", j.name, j.labels "
    "FROM runs r JOIN jobs j ON j.id = r.job_id"
)


class StoreUnavailable(Exception):
    """The data directory or database cannot be used; the message says why."""


class SqliteStore:
    """The embedded store. See `collector.store.Store` for the contract of each method."""

    def __init__(
        self,
        data_dir: Path,
        durability: str = "process",
        readers: int = 2,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = data_dir / DATABASE_FILE
        self._durability = durability
        self._busy_ms = int(busy_timeout * 1000)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="batchgate-writer")
        self._writer: sqlite3.Connection | None = None
        self._reader_count = readers
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = itertools.cycle(range(readers))

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        await self._on_writer(self._open_writer)
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
        if self._writer is not None:
            await self._on_writer(self._writer.close)
            self._writer = None
        self._executor.shutdown(wait=True)

    def _open_writer(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / ".batchgate-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            reason = error.strerror or str(error)
            raise StoreUnavailable(f"cannot use data directory {directory}: {reason}") from error
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            synchronous = "FULL" if self._durability == "fsync" else "NORMAL"
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            _migrate(conn)
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(f"cannot use database {self.path}: {error}") from error
        self._writer = conn

    async def _on_writer(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _reader(self) -> aiosqlite.Connection:
        return self._readers[next(self._next_reader)]

    # -- writes (called by the writer only) ----------------------------------------------

    async def commit(self, batch: WriteBatch) -> None:
        await self._on_writer(self._commit, batch)

    def _commit(self, batch: WriteBatch) -> None:
        conn = self._writer
        assert conn is not None, "store is not open"
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job_id in batch.deleted_jobs:
                conn.execute(
                    "DELETE FROM run_points WHERE run_id IN "
                    "(SELECT run_id FROM runs WHERE job_id = ?)",
                    (job_id,),
                )
                conn.execute("DELETE FROM runs WHERE job_id = ?", (job_id,))
                conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            if batch.jobs:
                conn.executemany(_UPSERT_JOB, batch.jobs)
            if batch.runs:
                conn.executemany(_UPSERT_RUN, batch.runs)
            if batch.run_progress:
                conn.executemany(_UPDATE_RUN_PROGRESS, batch.run_progress)
            if batch.points:
                conn.executemany(_INSERT_POINT, batch.points)
            if batch.thinnings:
                conn.executemany(
                    "DELETE FROM run_points WHERE run_id = ? AND seq IS NOT NULL AND seq % ? != 0",
                    batch.thinnings,
                )
            if batch.seen:
                conn.executemany(
                    "INSERT OR IGNORE INTO seen_events (event_id, run_id, received_at) "
                    "VALUES (?, ?, ?)",
                    batch.seen,
                )
            if batch.groups_wiped:
                conn.execute("DELETE FROM pushgateway_groups")
            if batch.groups:
                conn.executemany(
                    "INSERT INTO pushgateway_groups (grouping_key, snapshot) VALUES (?, ?) "
                    "ON CONFLICT (grouping_key) DO UPDATE SET snapshot = excluded.snapshot",
                    [(key, snapshot) for key, snapshot in batch.groups if snapshot is not None],
                )
                conn.executemany(
                    "DELETE FROM pushgateway_groups WHERE grouping_key = ?",
                    [(key,) for key, snapshot in batch.groups if snapshot is None],
                )
            if batch.audit:
                conn.executemany(
                    "INSERT INTO audit (at, who, action, target, details) VALUES (?, ?, ?, ?, ?)",
                    batch.audit,
                )
            if batch.group_events:
                conn.executemany(
                    "INSERT INTO pushgateway_group_events (at, event, labels, last_push_at, "
                    "series) VALUES (?, ?, ?, ?, ?)",
                    batch.group_events,
                )
            _commit_alerting(conn, batch)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def prune(
        self, older_than: float, max_runs_per_job: int, seen_before: float
    ) -> list[str]:
        deleted: list[str] = await self._on_writer(
            self._prune, older_than, max_runs_per_job, seen_before
        )
        return deleted

    def _prune(self, older_than: float, max_runs_per_job: int, seen_before: float) -> list[str]:
        conn = self._writer
        assert conn is not None, "store is not open"
        conn.execute("BEGIN IMMEDIATE")
        try:
            # A job's last run is kept whatever its age: it is what the job shows.
            last_runs = {
                row[0]
                for row in conn.execute(
                    "SELECT last_run_id FROM jobs WHERE last_run_id IS NOT NULL"
                )
            }
            doomed = [
                row[0]
                for row in conn.execute(
                    "SELECT run_id FROM runs WHERE started_at < ? AND status != 'running'",
                    (older_than,),
                )
            ]
            crowded = conn.execute(
                "SELECT job_id FROM runs GROUP BY job_id HAVING count(*) > ?", (max_runs_per_job,)
            ).fetchall()
            for (job_id,) in crowded:
                # Running runs count towards the newest N, but are never deleted.
                doomed.extend(
                    run_id
                    for run_id, status in conn.execute(
                        "SELECT run_id, status FROM runs WHERE job_id = ? "
                        "ORDER BY started_at DESC, run_id DESC LIMIT -1 OFFSET ?",
                        (job_id, max_runs_per_job),
                    )
                    if status != "running"
                )
            unique = [(run_id,) for run_id in dict.fromkeys(doomed) if run_id not in last_runs]
            conn.executemany("DELETE FROM run_points WHERE run_id = ?", unique)
            conn.executemany("DELETE FROM runs WHERE run_id = ?", unique)
            conn.execute("DELETE FROM seen_events WHERE received_at < ?", (seen_before,))
            conn.execute("DELETE FROM pushgateway_group_events WHERE at < ?", (older_than,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return [run_id for (run_id,) in unique]

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
            for quantile in (0.5, 0.95):
                position = quantile * (count - 1)
                low = int(position)
                rows = await reader.execute_fetchall(
                    f"SELECT duration FROM runs WHERE {succeeded} "
                    "ORDER BY duration LIMIT 2 OFFSET ?",
                    [*params, low],
                )
                values = [row[0] for row in rows]
                high = values[-1]
                value = values[0] + (high - values[0]) * (position - low)
                if quantile == 0.5:
                    stats.duration_p50 = value
                else:
                    stats.duration_p95 = value
        return stats

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

    # -- restore -------------------------------------------------------------------------

    async def _restore(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        reader = self._reader()
        jobs: dict[int, Job] = {}
        last_ids: dict[str, Job] = {}
        for row in await reader.execute_fetchall(f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs"):
            record = JobRecord(*row)
            job = _job_from_record(record, recent_runs)
            jobs[job.id] = job
            if record.last_run_id is not None:
                last_ids[record.last_run_id] = job
        for row in await reader.execute_fetchall(f"{_SELECT_RUN} WHERE r.status = 'running'"):
            run = _run_from_joined_row(row)
            job = jobs[row[1]]
            job.running[run.run_id] = run
        for run in await self.get_runs(list(last_ids)):
            job = last_ids[run.run_id]
            job.last_run = job.running.get(run.run_id, run)
        newest_finished: dict[str, Job] = {}
        for job in jobs.values():
            rows = list(
                await reader.execute_fetchall(
                    "SELECT run_id, status, started_at, finished_at, duration, done FROM runs "
                    "WHERE job_id = ? AND status != 'running' "
                    "ORDER BY finished_at DESC, run_id DESC LIMIT ?",
                    (job.id, recent_runs),
                )
            )
            job.recent.extend(RunSummary(*row) for row in reversed(rows))
            if rows:
                newest_finished[rows[0][0]] = job
        for run in await self.get_runs(list(newest_finished)):
            job = newest_finished[run.run_id]
            last = job.last_run
            job.last_finished = last if last is not None and last.run_id == run.run_id else run
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
        return Restored(list(jobs.values()), seen, seen_since, groups)


def _commit_alerting(conn: sqlite3.Connection, batch: WriteBatch) -> None:
    """Alerts, the outbox and silences, in the order the WriteBatch documents."""
    if batch.deleted_alerts:
        conn.executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in batch.deleted_alerts])
    if batch.alerts:
        conn.executemany(
            "INSERT INTO alerts (id, state, data) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data",
            [(r.id, r.state, _json(r.data)) for r in batch.alerts],
        )
    if batch.notifications:
        conn.executemany(
            "INSERT OR REPLACE INTO outbox (id, receiver, alert_id, due_at, data) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.id, r.receiver, r.alert_id, r.due_at, _json(r.data)) for r in batch.notifications],
        )
    if batch.finished_notifications:
        conn.executemany(
            "DELETE FROM outbox WHERE id = ?", [(i,) for i in batch.finished_notifications]
        )
    if batch.silences:
        conn.executemany(
            "INSERT OR REPLACE INTO silences (id, ends_at, data) VALUES (?, ?, ?)",
            batch.silences,
        )
    if batch.deleted_silences:
        conn.executemany(
            "DELETE FROM silences WHERE id = ?", [(i,) for i in batch.deleted_silences]
        )


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise sqlite3.DatabaseError(
            f"database schema version {version} is newer than this batchgate "
            f"({len(MIGRATIONS)}); upgrade batchgate"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _job_key(name: str, labels: str) -> JobKey:
    return JobKey(name, tuple(sorted(json.loads(labels).items())))


def _job_from_record(record: JobRecord, recent_runs: int) -> Job:
    buckets = json.loads(record.duration_buckets)
    if len(buckets) != len(DURATION_BUCKETS):
        buckets = [0] * len(DURATION_BUCKETS)
    return Job(
        key=_job_key(record.name, record.labels),
        id=record.id,
        created_at=record.created_at,
        kind=record.kind,
        recent=deque(maxlen=recent_runs),
        last_seen_at=record.last_seen_at,
        last_start_at=record.last_start_at,
        last_success_at=record.last_success_at,
        last_failure_at=record.last_failure_at,
        last_finished_at=record.last_finished_at,
        last_duration=record.last_duration,
        counts=json.loads(record.counts),
        duration_buckets=buckets,
        duration_sum=record.duration_sum,
        duration_count=record.duration_count,
    )


def _run_from_joined_row(row: Any) -> Run:
    record = RunRecord(*row[: len(_RUN_COLUMNS)])
    name, labels = row[len(_RUN_COLUMNS) :]
    return Run(
        run_id=record.run_id,
        job=_job_key(name, labels),
        status=record.status,
        started_at=record.started_at,
        last_event_at=record.last_event_at,
        last_progress_at=record.last_progress_at,
        finished_at=record.finished_at,
        percent=record.percent,
        done=record.done,
        total=record.total,
        errors=record.errors,
        cpu_percent=record.cpu_percent,
        memory_bytes=record.memory_bytes,
        io_read_bytes=record.io_read_bytes,
        io_write_bytes=record.io_write_bytes,
        metrics=json.loads(record.metrics) if record.metrics else {},
        message=record.message,
        exit_code=record.exit_code,
        lost_after=record.lost_after,
        samples=record.samples,
        sample_level=record.sample_level,
        last_sample_at=record.last_sample_at if record.last_sample_at is not None else -1e300,
        untimed=record.finished_at is not None and record.duration is None,
    )
