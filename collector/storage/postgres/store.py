"""The PostgreSQL store, on asyncpg: one write connection, a small pool of readers.

The writer's group commit is one transaction on the write connection (`writes.commit`),
answered once PostgreSQL has committed it: with the server's `synchronous_commit` as the
database has it (on, by default: flushed to the server's disk; on a replicated server,
`remote_apply` or `on` with synchronous standbys makes an acknowledged push survive the
primary's loss). A commit whose connection broke has an unknown outcome; the writer retries
it on a new connection and the batch number in `writer_state` applies it once.

The password may be in the URL, in the `password_file` (a file holding it), in PGPASSWORD
or in a .pgpass file (the last two read by asyncpg, as libpq would). No log line or error
names it: the URL is shown through `url.masked`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from batchgate.collector.core.model import Job, Run, RunSummary
from batchgate.collector.core.records import (
    AlertEventRecord,
    AuditRecord,
    GroupEventRecord,
    OutboxRecord,
    PointRecord,
    QueueHistory,
    QueueStats,
    RunStats,
    SeenRecord,
    WriteBatch,
)
from batchgate.collector.storage.postgres import writes
from batchgate.collector.storage.postgres.rows import (
    JOB_COLUMNS,
    POINT_COLUMNS,
    RUN_COLUMNS,
    from_text,
    from_text_or_none,
    job_from_row,
    point_record,
    run_from_joined_row,
    to_text,
)
from batchgate.collector.storage.postgres.schema import MIGRATIONS, SchemaTooNew, migrate
from batchgate.collector.storage.postgres.url import (
    masked,
    password_from_file,
    password_of,
    scrubbed,
)

# The exception `batchgate serve` reports, without a traceback, when the store cannot be
# opened: SQLite's, so that the server knows one.
from batchgate.collector.storage.sqlite.store import StoreUnavailable
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
    last_finished_to_read,
    last_runs_to_read,
    queue_history_queries,
)
from batchgate.collector.storage.writer import StorageFailing

__all__ = ["PostgresStore", "StoreUnavailable"]

log = logging.getLogger(__name__)

_QUEUE_HISTORY = queue_history_queries("floor(finished_at / 60)::bigint", "$1")
_SELECT_RUN = (
    "SELECT " + ", ".join(f"r.{c}" for c in RUN_COLUMNS) + ", j.name, j.labels "
    "FROM runs r JOIN jobs j ON j.id = r.job_id"
)
_JOB_FIELDS = ", ".join(JOB_COLUMNS[:-1])

_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # the connection was closed under a query
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # the server is shutting down or starting
    # A connection the server closed under a query, released to the pool (asyncpg 0.26:
    # "cannot switch to state 15; another operation (2) is in progress").
    asyncpg.InternalClientError,
)
"""What a database that is not there raises, rather than one that refused a statement."""


class _Closable(Protocol):
    def terminate(self) -> None: ...


@contextlib.asynccontextmanager
async def _dropped_if_broken(conn: _Closable) -> AsyncIterator[None]:
    """Close `conn` if the block fails as a lost connection does, so that its pool opens
    a new one for the next use. asyncpg 0.26 can keep a connection the server closed under
    a transaction "in the middle of another operation" for good: every commit on it then
    failed, the database long back (tests/collector/ha/test_the_database_restarts.py)."""
    try:
        yield
    except _UNREACHABLE:
        conn.terminate()
        raise


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection to the server."""
COMMAND_TIMEOUT = 60.0
"""Seconds a statement may take before it fails (and a commit is retried)."""


class PostgresStore:
    """The shared store. See `collector.storage.store.Store` for the contract of each method."""

    wal_limit_bytes = 0
    """PostgreSQL keeps its own write-ahead log (its `max_wal_size`), not batchgate."""

    def __init__(
        self,
        url: str,
        password_file: Path | None = None,
        readers: int = 4,
        *,
        one_statement: bool = True,
    ) -> None:
        self.url = masked(url)
        """The URL as logs may show it: without its password."""
        self._dsn = url
        self._password_file = password_file
        self._readers_count = readers
        self._writer: asyncpg.Pool | None = None
        self._readers: asyncpg.Pool | None = None
        self._session = uuid.uuid4().hex
        """Names this server's batches in the database (see `writes.commit`)."""
        self._batches = 0
        self._unconfirmed: tuple[WriteBatch, int] | None = None
        """The batch whose commit last failed, and its number: a retry keeps the number."""
        self._one_statement_wanted = one_statement
        self._one_statement: writes.OneStatement | None = None
        """Writes the most common batches in one statement (`writes.OneStatement`); None:
        every batch as a transaction of statements (`one_statement=False`, for tests)."""
        self.fence_epoch: int | None = None
        """The leadership lease's epoch every commit must hold (`lease.fence_sql`), set by
        the node while it leads; None: commits are not fenced (no lease in use)."""
        self.fence_hold = 1.0
        """Seconds a fenced commit may wait for this server before the database ends it."""

    # -- lifecycle -----------------------------------------------------------------------

    def _password(self) -> str | None:
        if self._password_file is None:
            return None
        try:
            return password_from_file(self._password_file)
        except OSError as error:
            raise StoreUnavailable(
                f"cannot read the database password file {self._password_file}: "
                f"{error.strerror or error}"
            ) from None

    async def _pool(self, size: int, password: str | None) -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            self._dsn,
            password=password,
            # No floor of idle connections: asyncpg would log a traceback for each failed
            # attempt to keep it during an outage. The writer commits every few seconds.
            min_size=0,
            max_size=size,
            timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            # JIT compiles a query when the planner guesses it costly (a trend over
            # many runs): 100+ ms of compiling for a query that takes 20.
            server_settings={"application_name": "batchgate", "jit": "off"},
        )
        return pool

    async def open(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        password = self._password()
        try:
            self._writer = await self._pool(1, password)
            self._readers = await self._pool(self._readers_count, password)
            async with self._writer.acquire() as conn:
                found = await migrate(conn)
                if self._one_statement_wanted:
                    types = await writes.OneStatement.column_types(conn)
                    self._one_statement = writes.OneStatement(types)
        except SchemaTooNew as error:
            await self.close()
            raise StoreUnavailable(f"cannot use database {self.url}: {error}") from None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            await self.close()
            reason = scrubbed(str(error) or type(error).__name__, password, password_of(self._dsn))
            raise StoreUnavailable(f"cannot use database {self.url}: {reason}") from None
        if found < len(MIGRATIONS):
            log.info("database %s: schema migrated from version %d to %d",
                     self.url, found, len(MIGRATIONS))  # fmt: skip
        return await self._restore(now, recent_runs, seen_window)

    async def close(self) -> None:
        for pool in (self._readers, self._writer):
            if pool is not None:
                await pool.close()
        self._readers = self._writer = None

    def wal_bytes(self) -> int:
        return 0

    async def housekeeping(self) -> None:
        """Nothing: PostgreSQL's autovacuum and checkpoints are the server's."""

    async def _fetch(self, query: str, *arguments: Any) -> list[asyncpg.Record]:
        """The rows of a read. A database that cannot be reached raises StorageFailing,
        which the server answers with a 503 (the client retries), as it does for writes."""
        if self._readers is None:
            raise RuntimeError("the store is not open")
        try:
            rows: list[asyncpg.Record] = await self._readers.fetch(query, *arguments)
        except _UNREACHABLE as error:
            raise StorageFailing(f"the database cannot be read: {_reason(error)}") from None
        return rows

    async def _fetchval(self, query: str, *arguments: Any) -> Any:
        ((value, *_),) = await self._fetch(query, *arguments)
        return value

    # -- writes (called by the writer only) ----------------------------------------------

    async def commit(self, batch: WriteBatch) -> None:
        if self._unconfirmed is not None and self._unconfirmed[0] is batch:
            number = self._unconfirmed[1]
        else:
            self._batches += 1
            number = self._batches
        self._unconfirmed = (batch, number)
        if self._writer is None:
            raise RuntimeError("the store is not open")
        async with self._writer.acquire() as conn, _dropped_if_broken(conn):
            await writes.commit(
                conn,
                self._session,
                number,
                batch,
                self.fence_epoch,
                self.fence_hold,
                self._one_statement,
            )
        self._unconfirmed = None

    async def prune(
        self, older_than: float, max_runs_per_job: int, seen_before: float
    ) -> list[str]:
        if self._writer is None:
            raise RuntimeError("the store is not open")
        async with self._writer.acquire() as conn, _dropped_if_broken(conn):
            return await writes.prune(conn, older_than, max_runs_per_job, seen_before)

    # -- reads ---------------------------------------------------------------------------

    async def check(self) -> None:
        await self._fetchval("SELECT 1")

    async def alerting_state(self) -> AlertingState:
        alerts = [json.loads(data) for (data,) in await self._fetch("SELECT data FROM alerts")]
        outbox = [
            OutboxRecord(outbox_id, from_text(receiver), alert_id, due_at, json.loads(data))
            for outbox_id, receiver, alert_id, due_at, data in await self._fetch(
                "SELECT id, receiver, alert_id, due_at, data FROM outbox ORDER BY id"
            )
        ]
        silences = [json.loads(data) for (data,) in await self._fetch("SELECT data FROM silences")]
        return AlertingState(alerts, outbox, silences)

    async def get_runs(self, run_ids: list[str]) -> list[Run]:
        if not run_ids:
            return []
        rows = await self._fetch(f"{_SELECT_RUN} WHERE r.run_id = ANY($1::text[])", run_ids)
        return [run_from_joined_row(row) for row in rows]

    async def timeline(self, run_id: str) -> list[PointRecord]:
        rows = await self._fetch(
            f"SELECT {', '.join(POINT_COLUMNS)} FROM run_points WHERE run_id = $1 ORDER BY at, id",
            run_id,
        )
        return [point_record(row) for row in rows]

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
        where = ["r.job_id = ANY($1::bigint[])"]
        params: list[Any] = [job_ids]

        def mark(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if statuses:
            where.append(f"r.status = ANY({mark(statuses)}::text[])")
        if since is not None:
            where.append(f"r.started_at >= {mark(since)}")
        if until is not None:
            where.append(f"r.started_at < {mark(until)}")
        if before is not None:
            at, run_id = mark(before[0]), mark(before[1])
            where.append(f"(r.started_at < {at} OR (r.started_at = {at} AND r.run_id < {run_id}))")
        rows = await self._fetch(
            f"{_SELECT_RUN} WHERE {' AND '.join(where)} "
            f"ORDER BY r.started_at DESC, r.run_id DESC LIMIT {mark(limit)}",
            *params,
        )
        return [run_from_joined_row(row) for row in rows]

    async def run_counts(self, since: float) -> dict[str, int]:
        first = first_whole_bucket(since)
        whole = await self._fetch(
            "SELECT status, sum(runs) FROM run_counts WHERE bucket >= $1 GROUP BY status", first
        )
        before = await self._fetch(
            "SELECT status, count(*) FROM runs WHERE started_at >= $1 AND started_at < $2 "
            "GROUP BY status",
            since,
            float(first * COUNT_BUCKET),
        )
        return added_counts(whole, before)

    async def run_stats(self, job_ids: list[int] | None, since: float) -> RunStats:
        if job_ids is not None and not job_ids:
            return RunStats({})
        jobs = "job_id = ANY($2::bigint[]) AND " if job_ids is not None else ""
        params: list[Any] = [since] if job_ids is None else [since, job_ids]
        rows = await self._fetch(
            f"SELECT status, count(*) FROM runs WHERE {jobs}started_at >= $1 GROUP BY status",
            *params,
        )
        counts: dict[str, int] = {status: count for status, count in rows}  # noqa: C416
        # Percentiles interpolate between the two nearest runs, as SQLite's store does.
        (row,) = await self._fetch(
            "SELECT count(*), avg(duration), max(duration), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY duration), "
            "coalesce(sum(done) FILTER (WHERE done IS NOT NULL), 0), "
            "coalesce(sum(duration) FILTER (WHERE done IS NOT NULL), 0) FROM runs "
            f"WHERE {jobs}status = 'succeeded' AND duration IS NOT NULL AND started_at >= $1",
            *params,
        )
        _, average, longest, p50, p95, records_done, records_seconds = row
        return RunStats(counts, average, p50, p95, longest, records_done, records_seconds)

    async def queue_stats(self, queue: str, since: float) -> QueueStats:
        where = "queue = $1 AND started_at >= $2"
        rows = await self._fetch(
            "SELECT status, count(*), sum(greatest(coalesce(attempt, 1) - 1, 0)) FROM runs "
            f"WHERE {where} GROUP BY status",
            queue,  # written as it is (a queue name has no control character)
            since,
        )
        stats = QueueStats({status: count for status, count, _ in rows})
        stats.retries = int(sum(retries for _, _, retries in rows))
        # Percentiles interpolate between the two nearest runs, as SQLite's store does.
        (row,) = await self._fetch(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY wait), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY wait), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY duration) "
            f"FROM (SELECT {WAIT_OF_FINISHED} AS wait, duration FROM runs "
            f"WHERE {where} AND duration IS NOT NULL) finished",
            queue,
            since,
        )
        stats.wait_p50, stats.wait_p95, stats.run_p50, stats.run_p95 = row
        return stats

    async def seen_event_ids(self, event_ids: list[str]) -> list[SeenRecord]:
        if not event_ids:
            return []
        rows = await self._fetch(
            "SELECT event_id, run_id, received_at FROM seen_events "
            "WHERE event_id = ANY($1::text[])",
            [to_text(event_id) for event_id in event_ids],
        )
        return [SeenRecord(from_text(event_id), *rest) for event_id, *rest in rows]

    async def group_history(self, limit: int) -> list[GroupEventRecord]:
        rows = await self._fetch(
            "SELECT at, event, labels, last_push_at, series FROM pushgateway_group_events "
            "ORDER BY at DESC, id DESC LIMIT $1",
            limit,
        )
        return [GroupEventRecord(*row) for row in rows]

    async def audit(self, limit: int, before: float | None) -> list[AuditRecord]:
        if before is None:
            rows = await self._fetch(
                "SELECT at, who, action, target, details FROM audit "
                "ORDER BY at DESC, id DESC LIMIT $1",
                limit,
            )
        else:
            rows = await self._fetch(
                "SELECT at, who, action, target, details FROM audit WHERE at < $2 "
                "ORDER BY at DESC, id DESC LIMIT $1",
                limit,
                before,
            )
        return [
            AuditRecord(at, from_text(who), from_text(action), from_text(target), details)
            for at, who, action, target, details in rows
        ]

    async def alert_history(
        self,
        job: str | None,
        rule: str | None,
        since: float | None,
        until: float | None,
        before: tuple[float, int] | None,
        limit: int,
    ) -> list[tuple[int, AlertEventRecord]]:
        where: list[str] = []
        params: list[Any] = []

        def mark(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if job is not None:
            # md5(job) first: the index is on it (a job's name may outgrow an index entry).
            name = mark(to_text(job))
            where.append(f"md5(job) = md5({name}) AND job = {name}")
        if rule is not None:
            where.append(f"rule = {mark(to_text(rule))}")
        if since is not None:
            where.append(f"at >= {mark(since)}")
        if until is not None:
            where.append(f"at < {mark(until)}")
        if before is not None:
            at, row_id = mark(before[0]), mark(before[1])
            where.append(f"(at < {at} OR (at = {at} AND id < {row_id}))")
        rows = await self._fetch(
            f"SELECT id, {', '.join(AlertEventRecord._fields)} FROM alert_events "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + f"ORDER BY at DESC, id DESC LIMIT {mark(limit)}",
            *params,
        )
        return [(row[0], _alert_event(row[1:])) for row in rows]

    # -- restore -------------------------------------------------------------------------

    async def _restore(self, now: float, recent_runs: int, seen_window: float) -> Restored:
        jobs: dict[int, Job] = {}
        last_ids: dict[str, Job] = {}
        for row in await self._fetch(f"SELECT {_JOB_FIELDS} FROM jobs"):
            job, last_run_id = job_from_row(row, recent_runs)
            jobs[job.id] = job
            if last_run_id is not None:
                last_ids[last_run_id] = job
        for row in await self._fetch(f"{_SELECT_RUN} WHERE r.status = 'running'"):
            run = run_from_joined_row(row)
            jobs[row[1]].running[run.run_id] = run
        for row in await self._fetch(f"{_SELECT_RUN} WHERE {WAITING}"):
            run = run_from_joined_row(row)
            jobs[row[1]].waiting[run.run_id] = run
        unread = last_runs_to_read(last_ids)
        for run in await self.get_runs(list(unread)):
            unread[run.run_id].last_run = run
        # Each job's newest finished runs, in one query rather than one a job.
        newest_finished: dict[str, Job] = {}
        recent: dict[int, list[RunSummary]] = {}
        for row in await self._fetch(
            "SELECT j.id, r.run_id, r.status, r.started_at, r.finished_at, r.duration, r.done "
            "FROM jobs j CROSS JOIN LATERAL (SELECT * FROM runs "
            "  WHERE job_id = j.id AND status != 'running' AND finished_at IS NOT NULL "
            "  ORDER BY finished_at DESC NULLS LAST, run_id DESC LIMIT $1) r",
            recent_runs,
        ):
            summaries = recent.setdefault(row[0], [])
            if not summaries:
                newest_finished[row[1]] = jobs[row[0]]
            summaries.append(RunSummary(*row[1:]))
        for job_id, summaries in recent.items():
            jobs[job_id].recent.extend(reversed(summaries))
        unread = last_finished_to_read(newest_finished)
        for run in await self.get_runs(list(unread)):
            unread[run.run_id].last_finished = run
        seen_since = now - seen_window
        seen = [
            SeenRecord(from_text(event_id), run_id, received_at)
            for event_id, run_id, received_at in await self._fetch(
                "SELECT event_id, run_id, received_at FROM seen_events "
                "WHERE received_at >= $1 ORDER BY received_at",
                seen_since,
            )
        ]
        groups = [
            from_text(snapshot)
            for (snapshot,) in await self._fetch(
                'SELECT snapshot FROM pushgateway_groups ORDER BY grouping_key COLLATE "C"'
            )
        ]
        counts, retries, timings = _QUEUE_HISTORY
        day, hour = now - QUEUE_DAY, now - QUEUE_HOUR
        queues = QueueHistory(
            [(from_text(row[0]), *row[1:]) for row in await self._fetch(counts, day)],
            [(from_text(row[0]), row[1]) for row in await self._fetch(retries, day)],
            [(from_text(row[0]), *row[1:]) for row in await self._fetch(timings, hour)],
        )
        alive_at = await self._fetchval("SELECT alive_at FROM writer_state WHERE id = 1")
        return Restored(list(jobs.values()), seen, seen_since, groups, alive_at, queues=queues)


def _alert_event(row: Any) -> AlertEventRecord:
    at, event, alert_id, rule, job, labels, run_id, severity, value, summary = row
    return AlertEventRecord(
        at, event, from_text(alert_id), from_text(rule), from_text(job), labels,
        from_text_or_none(run_id), from_text(severity), value, from_text_or_none(summary),
    )  # fmt: skip
