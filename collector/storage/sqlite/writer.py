"""The SQLite store's writer process: the one write connection, group commits and pruning.

`SqliteStore` runs this module in a process of its own. A group commit of thousands of
rows spends most of its time in SQLite, and with the write connection on a thread of the
server, every step of a commit waited for the GIL behind the event loop, and the loop
behind the commit: on a second core, the commit and the event loop now run at once.

Standard library only (with `core.records` and `storage.sqlite.schema`): the process
starts in tens of milliseconds and holds nothing of the server.

The protocol, on the process's stdin and stdout: frames of a 4-byte big-endian length and
a pickle; strictly one request, then its reply. A request is `(operation, *arguments)`;
a reply is `("ok", result)`, `("error", exception)` or `("unavailable", reason)` (the
database cannot be used at all). Operations: `open`, `commit`, `prune`, `checkpoint`,
`close`. After replying to a commit, the process keeps the write-ahead log under its
limit (`WalKeeper`) before it reads the next request. The process ends when its stdin
closes (the server is gone, however it went) or after `close`; it ignores SIGINT and
SIGTERM, so that a signal to the whole process group (Ctrl-C, a service manager) lets the
server flush through it before telling it to stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from batchgate.collector.core.records import (
    FINISHED_SQL,
    NOT_PROGRESS_COLUMNS,
    UNFINISHED_STATUSES,
    JobRecord,
    PointRecord,
    RunRecord,
    WriteBatch,
)
from batchgate.collector.storage.sqlite.schema import migrate
from batchgate.collector.storage.sqlite.wal import WalIndex

FRAME_HEADER = struct.Struct("!I")


def _upsert(table: str, columns: tuple[str, ...], key: str, fixed: tuple[str, ...] = ()) -> str:
    """INSERT, or UPDATE all but the key and the `fixed` columns. Leaving indexed columns
    that never change out of the SET spares SQLite rewriting their index entries."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key and c not in fixed)
    marks = ", ".join("?" * len(columns))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_UPSERT_JOB = _upsert("jobs", JobRecord._fields, "id")
_UPSERT_RUN = _upsert("runs", RunRecord._fields, "run_id", fixed=("job_id", "started_at"))
_UPDATE_RUN_PROGRESS = (
    "UPDATE runs SET "
    + ", ".join(
        f"{column} = ?{position}"
        for position, column in enumerate(RunRecord._fields, start=1)
        if column not in NOT_PROGRESS_COLUMNS
    )
    + " WHERE run_id = ?1"
)
"""For runs whose status did not change since their last commit (so their row exists): a
plain UPDATE, binding the whole record by position, that leaves runs_by_outcome and
runs_by_queue alone."""
_INSERT_POINT = (
    f"INSERT INTO run_points ({', '.join(PointRecord._fields)}) "
    f"VALUES ({', '.join('?' * len(PointRecord._fields))})"
)


PAGE_CACHE_KIB = 16384
"""The write connection's page cache (SQLite's default is 2 MiB): a batch of 500 runs of
a large history dirties some 2,000 pages (docs/benchmarks.md); with fewer in the cache,
SQLite spills them to the log before the commit and reads them back."""
PRUNE_CHUNK = 1000
"""Runs (or rows of a time-ordered table) that retention deletes in one transaction."""
CHECKPOINT_WAIT_MS = 1000
"""The longest a checkpoint waits for readers holding the log (past half its limit):
commits wait meanwhile."""


class Unavailable(Exception):
    """The data directory or the database cannot be used; the message says why."""


def connect(path: Path, durability: str, busy_ms: int) -> sqlite3.Connection:
    """The write connection, on a migrated database. Raises Unavailable."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".batchgate-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise Unavailable(f"cannot use data directory {directory}: {reason}") from error
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        synchronous = "FULL" if durability == "fsync" else "NORMAL"
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        # Checkpoints are made by WalKeeper after a commit's reply: left to SQLite, one
        # would run, fsync included, inside whichever commit crossed the threshold, and
        # every push waiting on that commit would wait for it.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        migrate(conn)
    except (sqlite3.Error, OSError) as error:
        raise Unavailable(f"cannot use database {path}: {error}") from error
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE; COMMIT when the block ends, ROLLBACK if it or the COMMIT raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class WalKeeper:
    """Keeps the write-ahead log under `limit_bytes`: once it holds more than
    `checkpoint_bytes`, copies it into the database (`wal_checkpoint(RESTART)`) before the
    next request, so that no commit runs meanwhile, and the next commit writes the log
    over from its start.

    SQLite starts its log over only once a checkpoint has copied all of it and no reader
    still reads from it. A checkpoint on another connection never got there under
    sustained writes (commits added frames while it copied), so the log grew with
    everything written: 11 GB over a fill of a million runs. Here the checkpoint runs
    where every commit is made, between commits. What can still hold the log is a reader
    whose query began before the last commit: it reads pages from the log until its query
    ends, and the log cannot start over meanwhile, even once all of it is copied. Below
    half the limit the checkpoint does not wait for such readers (the next commit tries
    again); past half, it waits for them, up to `CHECKPOINT_WAIT_MS`, and empties the
    log's file (`TRUNCATE`). Readers that begin meanwhile read the database alone (the
    log is all copied), so the wait ends with the longest query then in flight. A reader
    that holds its snapshot longer (a backup, an open transaction) keeps the log growing
    past the limit, which /health reports. One transaction's pages are in the log
    whatever is done, so retention deletes in chunks (`prune`).

    The bound is on the frames written since the log last started over, not on those
    checkpoints have yet to copy: with dashboards reading without pause, every frame was
    copied while the file kept growing, since some reader always held the log.

    The log's file is reused, not emptied, below half the limit: emptying it and growing
    it again at every checkpoint cost a fill of a million runs a quarter of its writer's
    time. The file keeps the size of the largest commit, or `checkpoint_bytes` (SQLite cuts
    it to that as it starts over: `journal_size_limit`); what it holds is read from the
    WAL index (`sqlite.wal.WalIndex`).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        checkpoint_bytes: int,
        limit_bytes: int,
        busy_ms: int,
    ) -> None:
        self._conn = conn
        self.index = WalIndex(path)
        self.checkpoint_bytes = checkpoint_bytes
        self.limit_bytes = limit_bytes
        self._busy_ms = busy_ms
        self._started_over = False
        """Whether the last checkpoint left the log to start over at the next commit."""
        # A log started over is cut to this size (or the size of the commit that starts
        # it over) by the first commit after, instead of keeping the size it had grown to.
        conn.execute(f"PRAGMA journal_size_limit = {checkpoint_bytes}")

    def size(self) -> int:
        """The bytes of the log since it last started over."""
        return self.index.log_bytes()

    def after_write(self) -> None:
        """Checkpoint if the log holds more than `checkpoint_bytes`. Errors are left to
        the next commit, which meets them too (a failing disk)."""
        self._started_over = False
        size = self.size()
        if size >= self.checkpoint_bytes:
            past_half = size >= self.limit_bytes // 2
            with contextlib.suppress(sqlite3.Error):
                self.checkpoint(wait=past_half, empty=past_half)

    def settle(self) -> tuple[int, int, int] | None:
        """Between commits (the store's housekeeping): empty a log whose last checkpoint
        could not start it over (a reader held it), without waiting for readers. Returns
        what `checkpoint` does, or None when there was nothing to do."""
        if self._started_over or self.size() < self.checkpoint_bytes:
            return None
        return self.checkpoint(wait=False, empty=True)

    def checkpoint(self, wait: bool, empty: bool) -> tuple[int, int, int]:
        """Copy the log into the database, so that the next commit starts it over, waiting
        for the readers that hold it only if `wait`, and emptying its file if `empty`.
        Returns SQLite's (busy, frames in the log, frames copied): busy is 1 when readers
        kept the log from starting over."""
        mode = "TRUNCATE" if empty else "RESTART"
        self._conn.execute(
            f"PRAGMA busy_timeout = {min(self._busy_ms, CHECKPOINT_WAIT_MS) if wait else 0}"
        )
        try:
            busy, frames, copied = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        self._started_over = busy == 0
        return busy, frames, copied


def commit(conn: sqlite3.Connection, session: str, number: int, batch: WriteBatch) -> None:
    """Apply batch `number` of the server's `session` in one transaction, unless that
    session already committed it or a later one (a retry whose first attempt did commit:
    the process died before it could say so). Numbers are per session, so a new server
    never mistakes its batches for those of an old one still finishing."""
    with _transaction(conn):
        last_session, last_batch = conn.execute(
            "SELECT session, last_batch FROM writer_state"
        ).fetchone()
        if last_session == session and last_batch >= number:
            return
        for job_id in batch.deleted_jobs:
            conn.execute(
                "DELETE FROM run_points WHERE run_id IN (SELECT run_id FROM runs WHERE job_id = ?)",
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
        _commit_groups(conn, batch)
        if batch.audit:
            conn.executemany(
                "INSERT INTO audit (at, who, action, target, details) VALUES (?, ?, ?, ?, ?)",
                batch.audit,
            )
        _commit_alerting(conn, batch)
        conn.execute(
            "UPDATE writer_state SET session = ?, last_batch = ?, alive_at = ?",
            (session, number, batch.alive_at),
        )


def _commit_groups(conn: sqlite3.Connection, batch: WriteBatch) -> None:
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
    if batch.group_events:
        conn.executemany(
            "INSERT INTO pushgateway_group_events (at, event, labels, last_push_at, "
            "series) VALUES (?, ?, ?, ?, ?)",
            batch.group_events,
        )


def _commit_alerting(conn: sqlite3.Connection, batch: WriteBatch) -> None:
    """Alerts, the outbox and silences, in the order the WriteBatch documents. Records come
    as plain tuples, so they are read by position."""
    if batch.deleted_alerts:
        conn.executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in batch.deleted_alerts])
    if batch.alerts:
        conn.executemany(
            "INSERT INTO alerts (id, state, data) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data",
            [(alert_id, state, _json(data)) for alert_id, state, data in batch.alerts],
        )
    if batch.alert_events:
        conn.executemany(
            "INSERT INTO alert_events (at, event, alert_id, rule, job, job_labels, run_id, "
            "severity, value, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch.alert_events,
        )
    if batch.notifications:
        conn.executemany(
            "INSERT OR REPLACE INTO outbox (id, receiver, alert_id, due_at, data) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (outbox_id, receiver, alert_id, due_at, _json(data))
                for outbox_id, receiver, alert_id, due_at, data in batch.notifications
            ],
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


def prune(
    conn: sqlite3.Connection,
    older_than: float,
    max_runs_per_job: int,
    seen_before: float,
    between: Callable[[], object] = lambda: None,
) -> list[str]:
    """See `Store.prune`; returns the ids of the runs deleted. Deletes in transactions of
    at most PRUNE_CHUNK runs or rows and calls `between` after each, so that a large
    deletion (the first after a long stop, a shorter retention) does not put all its pages
    in the write-ahead log at once. Only this process writes, so what is read first stays
    true between the transactions."""
    # A job's last run is kept whatever its age: it is what the job shows.
    last_runs = {
        row[0] for row in conn.execute("SELECT last_run_id FROM jobs WHERE last_run_id IS NOT NULL")
    }
    doomed = [
        row[0]
        for row in conn.execute(
            f"SELECT run_id FROM runs WHERE started_at < ? AND {FINISHED_SQL}",
            (older_than,),
        )
    ]
    crowded = conn.execute(
        "SELECT job_id FROM runs GROUP BY job_id HAVING count(*) > ?", (max_runs_per_job,)
    ).fetchall()
    for (job_id,) in crowded:
        # Runs not over (running, waiting) count towards the newest N, but are never deleted.
        doomed.extend(
            run_id
            for run_id, status in conn.execute(
                "SELECT run_id, status FROM runs WHERE job_id = ? "
                "ORDER BY started_at DESC, run_id DESC LIMIT -1 OFFSET ?",
                (job_id, max_runs_per_job),
            )
            if status not in UNFINISHED_STATUSES
        )
    unique = [(run_id,) for run_id in dict.fromkeys(doomed) if run_id not in last_runs]
    for first in range(0, len(unique), PRUNE_CHUNK):
        chunk = unique[first : first + PRUNE_CHUNK]
        with _transaction(conn):
            conn.executemany("DELETE FROM run_points WHERE run_id = ?", chunk)
            conn.executemany("DELETE FROM runs WHERE run_id = ?", chunk)
        between()
    for table, key, time, before in (
        ("seen_events", "event_id", "received_at", seen_before),
        ("pushgateway_group_events", "rowid", "at", older_than),
        ("alert_events", "id", "at", older_than),
    ):
        deleted = PRUNE_CHUNK
        while deleted == PRUNE_CHUNK:
            with _transaction(conn):
                deleted = conn.execute(
                    f"DELETE FROM {table} WHERE {key} IN "
                    f"(SELECT {key} FROM {table} WHERE {time} < ? LIMIT ?)",
                    (before, PRUNE_CHUNK),
                ).rowcount
            between()
    return [run_id for (run_id,) in unique]


# -- the process ---------------------------------------------------------------------------


def read_frame(stream: BinaryIO) -> Any:
    """The next frame's object, or None at the end of the stream."""
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None
    (size,) = FRAME_HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME_HEADER.pack(len(data)) + data


def serve(
    requests: BinaryIO,
    replies: BinaryIO,
    path: Path,
    durability: str,
    busy_ms: int,
    checkpoint_bytes: int,
    limit_bytes: int,
) -> None:
    """Answer requests until `close` or the end of `requests`."""
    conn: sqlite3.Connection | None = None
    keeper: WalKeeper | None = None
    while (request := read_frame(requests)) is not None:
        operation, *arguments = request
        try:
            if operation == "open":
                if conn is None:
                    conn = connect(path, durability, busy_ms)
                    keeper = WalKeeper(conn, path, checkpoint_bytes, limit_bytes, busy_ms)
                reply: tuple[str, object] = ("ok", None)
            elif conn is None or keeper is None:
                reply = ("error", RuntimeError(f"{operation} before open"))
            elif operation == "commit":
                session, number, fields = arguments
                commit(conn, session, number, WriteBatch(**fields))
                reply = ("ok", None)
            elif operation == "prune":
                older_than, max_runs_per_job, seen_before = arguments
                deleted = prune(conn, older_than, max_runs_per_job, seen_before, keeper.after_write)
                reply = ("ok", deleted)
            elif operation == "checkpoint":
                reply = ("ok", keeper.settle())
            elif operation == "close":
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.close()
                keeper.index.close()
                conn = None
                replies.write(frame(("ok", None)))
                replies.flush()
                return
            else:
                reply = ("error", RuntimeError(f"unknown operation {operation!r}"))
        except Unavailable as error:
            reply = ("unavailable", str(error))
        except Exception as error:
            reply = ("error", error)
        replies.write(_reply_frame(reply))
        replies.flush()
        if keeper is not None and operation == "commit":
            # After the reply: the pushes that waited on this commit do not wait for the
            # checkpoint; the next commit does, as it would behind a checkpoint elsewhere.
            keeper.after_write()


def _reply_frame(reply: tuple[str, object]) -> bytes:
    try:
        return frame(reply)
    except Exception:  # an exception that does not pickle: send what it said
        status, error = reply
        return frame((status, RuntimeError(f"{type(error).__name__}: {error}")))


def main(argv: list[str]) -> None:
    """`python -m batchgate.collector.storage.sqlite.writer PATH DURABILITY BUSY_MS
    CHECKPOINT_BYTES LIMIT_BYTES`, as SqliteStore starts it."""
    path, durability = Path(argv[0]), argv[1]
    busy_ms, checkpoint_bytes, limit_bytes = (int(value) for value in argv[2:5])
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    # Replies get stdout to themselves: anything printed goes to stderr instead.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with os.fdopen(0, "rb") as requests:
        serve(requests, replies, path, durability, busy_ms, checkpoint_bytes, limit_bytes)


if __name__ == "__main__":
    main(sys.argv[1:])
