"""`batchgate migrate`: copy an SQLite history into PostgreSQL, so that a user can grow from
the embedded default without losing history.

The copy goes into a database that no batchgate server has written to: a new one, or one
that an earlier copy filled (an interrupted copy, or the same copy made again). Such a
database is emptied first and filled again, so making a copy twice gives the same database
as making it once. A database a server has written to is refused: its jobs' ids would
collide with the copied ones. Rows go through PostgreSQL's COPY, a table at a time, in
the order SQLite holds them (so timelines and logs keep their order), converted as the
store converts them (`rows`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

from batchgate.collector.storage.postgres.rows import (
    JOB_COLUMNS,
    POINT_COLUMNS,
    RUN_COLUMNS,
    alert_event_row,
    digest,
    job_row,
    point_row,
    run_row,
    to_text,
)
from batchgate.collector.storage.postgres.schema import SCHEMA_TABLE, migrate
from batchgate.collector.storage.postgres.store import CONNECT_TIMEOUT
from batchgate.collector.storage.postgres.url import (
    masked,
    password_from_file,
    password_of,
    scrubbed,
)
from batchgate.collector.storage.sqlite.schema import DATABASE_FILE
from batchgate.collector.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS

COPY_SESSION = "copied from SQLite"
"""What `writer_state.session` holds in a database filled by a copy, until a server writes."""
CHUNK = 10_000
"""Rows read from SQLite and sent to PostgreSQL at a time."""

Progress = Callable[[str, int, int], None]
"""Called with a table's name, the rows copied so far and its rows in all."""


class CopyRefused(Exception):
    """The copy cannot be made; the message says why."""


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row


def _seen(row: tuple[Any, ...]) -> tuple[Any, ...]:
    event_id, run_id, received_at = row
    return (to_text(event_id), run_id, received_at)


def _group(row: tuple[Any, ...]) -> tuple[Any, ...]:
    key, snapshot = row
    return (digest(key), key, to_text(snapshot))


def _outbox(row: tuple[Any, ...]) -> tuple[Any, ...]:
    outbox_id, receiver, alert_id, due_at, data = row
    return (outbox_id, to_text(receiver), alert_id, due_at, data)


def _silence(row: tuple[Any, ...]) -> tuple[Any, ...]:
    silence_id, ends_at, data = row
    return (to_text(silence_id), ends_at, data)


def _audit(row: tuple[Any, ...]) -> tuple[Any, ...]:
    at, who, action, target, details = row
    return (at, to_text(who), to_text(action), to_text(target), details)


def _alert_event(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (row[0], *alert_event_row(row[1:]))


_ALERT_EVENT_COLUMNS = ("id", "at", "event", "alert_id", "rule", "job", "job_labels", "run_id",
                        "severity", "value", "summary")  # fmt: skip


class Table(NamedTuple):
    name: str
    order: str
    """SQLite's order of the rows: the order that timelines and logs keep."""
    source: tuple[str, ...]
    """SQLite's columns."""
    target: tuple[str, ...]
    """PostgreSQL's columns."""
    convert: Callable[..., tuple[Any, ...]]


_PAST_GROUP = ("at", "event", "labels", "last_push_at", "series")
_OUTBOX = ("id", "receiver", "alert_id", "due_at", "data")
_AUDIT = ("at", "who", "action", "target", "details")

TABLES = [
    Table("jobs", "id", JOB_COLUMNS[:-1], JOB_COLUMNS, job_row),
    Table("runs", "rowid", RUN_COLUMNS, RUN_COLUMNS, run_row),
    Table("run_points", "rowid", POINT_COLUMNS, POINT_COLUMNS, point_row),
    Table("seen_events", "received_at", ("event_id", "run_id", "received_at"),
          ("event_id", "run_id", "received_at"), _seen),
    Table("pushgateway_groups", "rowid", ("grouping_key", "snapshot"),
          ("key_digest", "grouping_key", "snapshot"), _group),
    Table("pushgateway_group_events", "rowid", _PAST_GROUP, _PAST_GROUP, _plain),
    Table("alerts", "id", ("id", "state", "data"), ("id", "state", "data"), _plain),
    Table("outbox", "id", _OUTBOX, _OUTBOX, _outbox),
    Table("silences", "id", ("id", "ends_at", "data"), ("id", "ends_at", "data"), _silence),
    Table("audit", "rowid", _AUDIT, _AUDIT, _audit),
    Table("alert_events", "id", _ALERT_EVENT_COLUMNS, _ALERT_EVENT_COLUMNS, _alert_event),
]  # fmt: skip


DERIVED = ("run_counts",)
"""Tables not copied: the database's triggers fill them again as the runs are copied."""
OWN_STATE = (SCHEMA_TABLE, "writer_state", "ha_lease")
"""Tables of the database's own, not history: its schema version, the last commit (set
once the copy is made) and the leadership lease of the nodes that will use it."""


def open_source(data_dir: Path) -> sqlite3.Connection:
    """The data directory's SQLite history, read-only. Raises CopyRefused."""
    path = data_dir / DATABASE_FILE
    if not path.is_file():
        raise CopyRefused(f"no batchgate history in {data_dir} (no {DATABASE_FILE})")
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        version = source.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as error:
        raise CopyRefused(f"cannot read {path}: {error}") from None
    if version != len(SQLITE_MIGRATIONS):
        source.close()
        raise CopyRefused(
            f"{path} has schema version {version}, this batchgate {len(SQLITE_MIGRATIONS)}: "
            "start this batchgate on it once (`batchgate serve --data-dir ...`), then copy"
        )
    return source


def _chunks(source: sqlite3.Connection, table: Table) -> Iterator[list[Any]]:
    cursor = source.execute(
        f"SELECT {', '.join(table.source)} FROM {table.name} ORDER BY {table.order}"
    )
    while rows := cursor.fetchmany(CHUNK):
        yield rows


async def copy_to(
    data_dir: Path, url: str, password_file: Path | None, progress: Progress
) -> dict[str, int]:
    """Copy the history in `data_dir` into the database at `url` (see `copy_history`).
    Raises CopyRefused, naming the database without its password."""
    password = None
    if password_file is not None:
        try:
            password = password_from_file(password_file)
        except OSError as error:
            raise CopyRefused(f"cannot read {password_file}: {error.strerror}") from None
    source = open_source(data_dir)
    try:
        try:
            conn = await asyncpg.connect(url, password=password, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            reason = scrubbed(str(error) or type(error).__name__, password, password_of(url))
            raise CopyRefused(f"cannot use database {masked(url)}: {reason}") from None
        try:
            return await copy_history(source, conn, progress)
        finally:
            await conn.close()
    finally:
        source.close()


async def copy_history(
    source: sqlite3.Connection, conn: asyncpg.Connection, progress: Progress
) -> dict[str, int]:
    """Copy every table of `source` into the database of `conn`; returns the rows copied by
    table. Raises CopyRefused when a batchgate server has written to that database."""
    await migrate(conn)
    session = await conn.fetchval("SELECT session FROM writer_state WHERE id = 1")
    if session not in ("", COPY_SESSION):
        raise CopyRefused(
            "the database already holds a history written by a batchgate server; "
            "copy into a new, empty database"
        )
    copied: dict[str, int] = {}
    async with conn.transaction():
        emptied = [table.name for table in TABLES] + list(DERIVED)
        await conn.execute(f"TRUNCATE {', '.join(emptied)} RESTART IDENTITY")
        for table in TABLES:
            (total,) = source.execute(f"SELECT count(*) FROM {table.name}").fetchone()
            done = 0
            progress(table.name, done, total)
            for rows in _chunks(source, table):
                await conn.copy_records_to_table(
                    table.name, records=[table.convert(row) for row in rows], columns=table.target
                )
                done += len(rows)
                progress(table.name, done, total)
            copied[table.name] = done
        # Alert history keeps its ids (its pages' cursors name them): new ones follow them.
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('alert_events', 'id'), "
            "coalesce(max(id), 0) + 1, false) FROM alert_events"
        )
        (alive_at,) = source.execute("SELECT alive_at FROM writer_state").fetchone()
        await conn.execute(
            "UPDATE writer_state SET session = $1, last_batch = 0, alive_at = $2 WHERE id = 1",
            COPY_SESSION,
            alive_at,
        )
    return copied
