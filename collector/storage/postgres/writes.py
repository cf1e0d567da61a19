"""The PostgreSQL store's write path: one group commit in one transaction, and retention.

The same steps, in the same order, as SQLite's writer process (`storage.sqlite.writer`),
on the store's one write connection; the writer calls them one at a time.

A commit is a transaction of several statements, one round trip each (`BEGIN` with the
batch's claim, one `executemany` a table, `COMMIT`). The batches pushes make most often
(progress of running runs with their timeline points, event ids, Pushgateway groups) are
instead written by one statement (`OneStatement`): data-modifying CTEs fed arrays, one per
column, which PostgreSQL runs as its own transaction. One round trip instead of four wakes
each process once instead of four times, which is what a commit costs on a busy machine.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import asyncpg.pool

from batchgate.collector.core.records import FINISHED_SQL, UNFINISHED_STATUSES, WriteBatch
from batchgate.collector.storage.postgres.lease import fence_sql
from batchgate.collector.storage.postgres.rows import (
    JOB_COLUMNS,
    POINT_COLUMNS,
    PROGRESS_COLUMNS,
    RUN_COLUMNS,
    alert_event_row,
    digest,
    job_row,
    point_row,
    run_progress_row,
    run_row,
    to_text,
)

if TYPE_CHECKING:
    # A connection of its own, or one a pool lends (generic in the stubs only).
    Connection: TypeAlias = asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]

PRUNE_CHUNK = 1000
"""Runs that retention deletes in one transaction."""


def _marks(count: int) -> str:
    return ", ".join(f"${i}" for i in range(1, count + 1))


def _upsert(table: str, columns: tuple[str, ...], key: str, fixed: tuple[str, ...] = ()) -> str:
    """INSERT, or UPDATE all but the key and the `fixed` columns (left out of the SET so
    that their index entries are not rewritten)."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key and c not in fixed)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_UPSERT_JOB = _upsert("jobs", JOB_COLUMNS, "id")
_UPSERT_RUN = _upsert("runs", RUN_COLUMNS, "run_id", fixed=("job_id", "started_at"))
_UPDATE_RUN_PROGRESS = (
    "UPDATE runs SET "
    + ", ".join(f"{column} = ${i}" for i, column in enumerate(PROGRESS_COLUMNS, start=1))
    + f" WHERE run_id = ${len(PROGRESS_COLUMNS) + 1}"
)
_INSERT_POINT = (
    f"INSERT INTO run_points ({', '.join(POINT_COLUMNS)}) VALUES ({_marks(len(POINT_COLUMNS))})"
)


async def commit(
    conn: Connection,
    session: str,
    number: int,
    batch: WriteBatch,
    fence: int | None = None,
    hold: float = 1.0,
    one_statement: OneStatement | None = None,
) -> None:
    """Apply batch `number` of the server's `session` in one transaction, unless that
    session already committed it or a later one (a retry whose first attempt did commit,
    its outcome lost with the connection). See `storage.sqlite.writer.commit`. With a
    `fence`, only while the leadership lease is that epoch's (`lease.fence_sql`, `hold`).
    With `one_statement`, a batch it covers is written in one statement."""
    # When the lease is not this epoch's, the one statement writes nothing and says so; the
    # transaction below then fails as a fenced commit does (`lease.is_fenced`).
    if (
        one_statement is not None
        and one_statement.covers(batch)
        and await one_statement.commit(conn, session, number, batch, fence)
    ):
        return
    # BEGIN and the batch's claim on writer_state in one round trip: a simple query of two
    # statements, whose values are the server's own (a hex session id, an int, a float).
    # A small group commit is a few round trips, and its latency is what 16 connections
    # of single pushes wait on.
    if not session.isalnum() or not session.isascii():
        raise ValueError(f"a session id is letters and digits, not {session!r}")
    fenced = f"{fence_sql(fence, hold)}; " if fence is not None else ""
    try:
        claimed = await conn.execute(
            f"BEGIN; {fenced}"
            f"UPDATE writer_state SET session = '{session}', last_batch = {int(number)}, "
            f"alive_at = {float(batch.alive_at)!r} WHERE id = 1 "
            f"AND NOT (session = '{session}' AND last_batch >= {int(number)})"
        )
        if claimed == "UPDATE 0":  # committed already, by an attempt whose answer was lost
            await conn.execute("ROLLBACK")
            return
        if batch.deleted_jobs:
            await conn.execute(
                "DELETE FROM run_points WHERE run_id IN "
                "(SELECT run_id FROM runs WHERE job_id = ANY($1::bigint[]))",
                batch.deleted_jobs,
            )
            await conn.execute(
                "DELETE FROM runs WHERE job_id = ANY($1::bigint[])", batch.deleted_jobs
            )
            await conn.execute("DELETE FROM jobs WHERE id = ANY($1::bigint[])", batch.deleted_jobs)
        if batch.jobs:
            await conn.executemany(_UPSERT_JOB, [job_row(job) for job in batch.jobs])
        if batch.runs:
            await conn.executemany(_UPSERT_RUN, [run_row(run) for run in batch.runs])
        if batch.run_progress:
            await conn.executemany(
                _UPDATE_RUN_PROGRESS, [run_progress_row(run) for run in batch.run_progress]
            )
        if batch.points:
            await conn.executemany(_INSERT_POINT, [point_row(point) for point in batch.points])
        if batch.thinnings:
            await conn.executemany(
                "DELETE FROM run_points WHERE run_id = $1 AND seq IS NOT NULL AND seq % $2 != 0",
                batch.thinnings,
            )
        if batch.seen:
            await conn.executemany(
                "INSERT INTO seen_events (event_id, run_id, received_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (event_id) DO NOTHING",
                [(to_text(event_id), run_id, at) for event_id, run_id, at in batch.seen],
            )
        await _commit_groups(conn, batch)
        if batch.audit:
            await conn.executemany(
                "INSERT INTO audit (at, who, action, target, details) VALUES ($1, $2, $3, $4, $5)",
                [
                    (at, to_text(who), to_text(action), to_text(target), details)
                    for at, who, action, target, details in batch.audit
                ],
            )
        await _commit_alerting(conn, batch)
        await conn.execute("COMMIT")
    except BaseException:
        if not conn.is_closed() and conn.is_in_transaction():
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
        raise


async def _commit_groups(conn: Connection, batch: WriteBatch) -> None:
    if batch.groups_wiped:
        await conn.execute("DELETE FROM pushgateway_groups")
    if batch.groups:
        stored = [
            (digest(key), key, to_text(snapshot))
            for key, snapshot in batch.groups
            if snapshot is not None
        ]
        if stored:
            await conn.executemany(
                "INSERT INTO pushgateway_groups (key_digest, grouping_key, snapshot) "
                "VALUES ($1, $2, $3) "
                "ON CONFLICT (key_digest) DO UPDATE SET snapshot = excluded.snapshot",
                stored,
            )
        gone = [digest(key) for key, snapshot in batch.groups if snapshot is None]
        if gone:
            await conn.execute(
                "DELETE FROM pushgateway_groups WHERE key_digest = ANY($1::bytea[])", gone
            )
    if batch.group_events:
        await conn.executemany(
            "INSERT INTO pushgateway_group_events (at, event, labels, last_push_at, series) "
            "VALUES ($1, $2, $3, $4, $5)",
            batch.group_events,
        )


async def _commit_alerting(conn: Connection, batch: WriteBatch) -> None:
    """Alerts, the outbox and silences, in the order the WriteBatch documents."""
    if batch.deleted_alerts:
        await conn.execute("DELETE FROM alerts WHERE id = ANY($1::text[])", batch.deleted_alerts)
    if batch.alerts:
        await conn.executemany(
            "INSERT INTO alerts (id, state, data) VALUES ($1, $2, $3) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data",
            [(alert_id, state, _json(data)) for alert_id, state, data in batch.alerts],
        )
    if batch.alert_events:
        await conn.executemany(
            "INSERT INTO alert_events (at, event, alert_id, rule, job, job_labels, run_id, "
            "severity, value, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [alert_event_row(event) for event in batch.alert_events],
        )
    if batch.notifications:
        await conn.executemany(
            "INSERT INTO outbox (id, receiver, alert_id, due_at, data) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (id) DO UPDATE SET receiver = excluded.receiver, "
            "alert_id = excluded.alert_id, due_at = excluded.due_at, data = excluded.data",
            [
                (outbox_id, to_text(receiver), alert_id, due_at, _json(data))
                for outbox_id, receiver, alert_id, due_at, data in batch.notifications
            ],
        )
    if batch.finished_notifications:
        await conn.execute(
            "DELETE FROM outbox WHERE id = ANY($1::bigint[])", batch.finished_notifications
        )
    if batch.silences:
        await conn.executemany(
            "INSERT INTO silences (id, ends_at, data) VALUES ($1, $2, $3) "
            "ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, data = excluded.data",
            [(to_text(silence_id), ends_at, data) for silence_id, ends_at, data in batch.silences],
        )
    if batch.deleted_silences:
        await conn.execute(
            "DELETE FROM silences WHERE id = ANY($1::text[])",
            [to_text(silence_id) for silence_id in batch.deleted_silences],
        )


class OneStatement:
    """Writes the batches made only of run progress, timeline points, event ids and
    Pushgateway groups in one statement: the batch's claim on `writer_state` (and the
    lease's check, FOR SHARE) in a CTE, each table's rows in a data-modifying CTE that runs
    only if the claim did. A statement outside a transaction block is a transaction: all
    or nothing, as the commit of several statements is. A batch holds each run and each
    group once, so no row is changed twice by the statement.

    Arrays are typed from the database's catalog (`column_types`), read once."""

    PARTS = frozenset({"run_progress", "points", "seen", "groups", "group_events"})
    """The parts of a WriteBatch it writes; a batch with any other goes the usual way."""

    def __init__(self, column_types: dict[str, dict[str, str]]) -> None:
        self._types = column_types

    @staticmethod
    async def column_types(conn: Connection) -> dict[str, dict[str, str]]:
        """Each written table's columns and their SQL types, as the database has them."""
        rows = await conn.fetch(
            "SELECT c.relname, a.attname, format_type(a.atttypid, NULL) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = ANY($1::text[]) AND pg_table_is_visible(c.oid) "
            "AND a.attnum > 0 AND NOT a.attisdropped",
            ["runs", "run_points", "seen_events", "pushgateway_groups", "pushgateway_group_events"],
        )
        types: dict[str, dict[str, str]] = {}
        for table, column, sql_type in rows:
            types.setdefault(table, {})[column] = sql_type
        return types

    def covers(self, batch: WriteBatch) -> bool:
        return not (
            batch.deleted_jobs or batch.jobs or batch.runs or batch.thinnings
            or batch.groups_wiped or batch.audit or batch.alert_events or batch.deleted_alerts
            or batch.alerts or batch.notifications or batch.finished_notifications
            or batch.silences or batch.deleted_silences
        )  # fmt: skip

    async def commit(
        self, conn: Connection, session: str, number: int, batch: WriteBatch, fence: int | None
    ) -> bool:
        """Write the batch (or nothing, if this session committed it already); False when
        the lease is not `fence`'s epoch (nothing written)."""
        arguments: list[Any] = [session, number, batch.alive_at]
        ctes = []
        held = "true"
        if fence is not None:
            arguments.append(fence)
            ctes.append(
                "fence AS (SELECT 1 FROM ha_lease WHERE id = 1 AND epoch = $4 "
                "AND expires_at > clock_timestamp() FOR SHARE)"
            )
            held = "EXISTS (SELECT 1 FROM fence)"
        ctes.append(
            "claim AS (UPDATE writer_state SET session = $1, last_batch = $2, alive_at = $3 "
            f"WHERE id = 1 AND NOT (session = $1 AND last_batch >= $2) AND {held} RETURNING 1)"
        )
        claimed = "EXISTS (SELECT 1 FROM claim)"

        def unnest(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
            types = self._types[table]
            values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
            marks = []
            for column, column_values in zip(columns, values, strict=True):
                arguments.append(list(column_values))
                marks.append(f"${len(arguments)}::{types[column]}[]")
            return f"unnest({', '.join(marks)}) AS u({', '.join(columns)})"

        if batch.run_progress:
            rows = [run_progress_row(run) for run in batch.run_progress]
            source = unnest("runs", (*PROGRESS_COLUMNS, "run_id"), rows)
            sets = ", ".join(f"{column} = u.{column}" for column in PROGRESS_COLUMNS)
            ctes.append(
                f"progress AS (UPDATE runs SET {sets} FROM {source} "
                f"WHERE runs.run_id = u.run_id AND {claimed})"
            )
        if batch.points:
            source = unnest("run_points", POINT_COLUMNS, [point_row(p) for p in batch.points])
            ctes.append(
                f"points AS (INSERT INTO run_points ({', '.join(POINT_COLUMNS)}) "
                f"SELECT * FROM {source} WHERE {claimed})"
            )
        if batch.seen:
            rows = [(to_text(event_id), run_id, at) for event_id, run_id, at in batch.seen]
            source = unnest("seen_events", ("event_id", "run_id", "received_at"), rows)
            ctes.append(
                f"seen AS (INSERT INTO seen_events (event_id, run_id, received_at) "
                f"SELECT * FROM {source} WHERE {claimed} ON CONFLICT (event_id) DO NOTHING)"
            )
        stored = [
            (digest(key), key, to_text(snapshot))
            for key, snapshot in batch.groups
            if snapshot is not None
        ]
        if stored:
            columns = ("key_digest", "grouping_key", "snapshot")
            source = unnest("pushgateway_groups", columns, stored)
            ctes.append(
                f"groups AS (INSERT INTO pushgateway_groups ({', '.join(columns)}) "
                f"SELECT * FROM {source} WHERE {claimed} "
                "ON CONFLICT (key_digest) DO UPDATE SET snapshot = excluded.snapshot)"
            )
        gone = [digest(key) for key, snapshot in batch.groups if snapshot is None]
        if gone:
            arguments.append(gone)
            ctes.append(
                "gone AS (DELETE FROM pushgateway_groups "
                f"WHERE key_digest = ANY(${len(arguments)}::bytea[]) AND {claimed})"
            )
        if batch.group_events:
            event_columns = ("at", "event", "labels", "last_push_at", "series")
            source = unnest("pushgateway_group_events", event_columns, list(batch.group_events))
            ctes.append(
                "group_events AS (INSERT INTO pushgateway_group_events "
                f"({', '.join(event_columns)}) "
                f"SELECT * FROM {source} WHERE {claimed})"
            )
        held_now: bool = await conn.fetchval(f"WITH {', '.join(ctes)} SELECT {held}", *arguments)
        return held_now


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


async def prune(
    conn: Connection, older_than: float, max_runs_per_job: int, seen_before: float
) -> list[str]:
    """See `Store.prune`; returns the ids of the runs deleted, in transactions of at most
    PRUNE_CHUNK runs. Only the writer writes, so what is read first stays true between them."""
    last_runs = {
        row[0]
        for row in await conn.fetch("SELECT last_run_id FROM jobs WHERE last_run_id IS NOT NULL")
    }
    doomed = [
        row[0]
        for row in await conn.fetch(
            f"SELECT run_id FROM runs WHERE started_at < $1 AND {FINISHED_SQL}", older_than
        )
    ]
    crowded = await conn.fetch(
        "SELECT job_id FROM runs GROUP BY job_id HAVING count(*) > $1", max_runs_per_job
    )
    for (job_id,) in crowded:
        # Runs not over (running, waiting) count towards the newest N, but are never deleted.
        doomed.extend(
            run_id
            for run_id, status in await conn.fetch(
                "SELECT run_id, status FROM runs WHERE job_id = $1 "
                "ORDER BY started_at DESC, run_id DESC OFFSET $2",
                job_id,
                max_runs_per_job,
            )
            if status not in UNFINISHED_STATUSES
        )
    unique = [run_id for run_id in dict.fromkeys(doomed) if run_id not in last_runs]
    for first in range(0, len(unique), PRUNE_CHUNK):
        chunk = unique[first : first + PRUNE_CHUNK]
        async with conn.transaction():
            await conn.execute("DELETE FROM run_points WHERE run_id = ANY($1::text[])", chunk)
            await conn.execute("DELETE FROM runs WHERE run_id = ANY($1::text[])", chunk)
    await conn.execute("DELETE FROM seen_events WHERE received_at < $1", seen_before)
    await conn.execute("DELETE FROM pushgateway_group_events WHERE at < $1", older_than)
    await conn.execute("DELETE FROM alert_events WHERE at < $1", older_than)
    return unique
