"""SQLite's writes run in a process of their own. When it dies the server starts another
and loses nothing acknowledged; a batch retried after an unknown outcome is applied once;
and the process never outlives the server, however the server ends."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from batchgate.collector.core.records import PointRecord, RunRecord, WriteBatch
from batchgate.collector.http.keys import STORE
from batchgate.collector.storage.sqlite.schema import DATABASE_FILE, MIGRATIONS
from batchgate.collector.storage.sqlite.store import SqliteStore, StoreUnavailable
from batchgate.collector.storage.sqlite.writer import Unavailable, commit, connect
from tests.helpers import Client, ServerProcess, SustainedPushes, checked, get, push


def writer_pid(client: Client) -> int:
    store = client.app[STORE]
    assert isinstance(store, SqliteStore)
    pid = store.writer_process.pid
    assert pid is not None
    return pid


def wait_gone(pid: int, within: float = 10.0) -> None:
    """Until the process has exited (a zombie waiting to be reaped counts as exited)."""
    deadline = time.monotonic() + within
    while True:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return
        if "State:\tZ" in status:
            return
        assert time.monotonic() < deadline, f"process {pid} still running after {within}s"
        time.sleep(0.02)


async def test_it_starts_a_new_writer_when_one_is_killed_and_loses_nothing(
    start: Callable[..., Awaitable[Client]],
) -> None:
    client = await start()
    await push(client, {"job": "etl", "event": "start", "run_id": "before"})
    killed = writer_pid(client)
    os.kill(killed, signal.SIGKILL)

    # The commit in flight fails, the writer retries it, and the retry starts a new process.
    await push(client, {"job": "etl", "event": "start", "run_id": "after"})
    assert writer_pid(client) != killed
    await checked(await client.get("/health"))
    await client.close()

    client = await start()
    for run_id in ("before", "after"):
        assert (await get(client, f"/runs/{run_id}"))["status"] == "running"


async def test_a_store_whose_writer_was_just_killed_still_closes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    await store.open(0.0, 32, 3600.0)
    pid = store.writer_process.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await store.close()  # at once: the server has not yet seen it exit
    assert store.writer_process.pid is None


@pytest.mark.parametrize(
    ("python", "reason"),
    [
        ("/nonexistent/python3", "cannot start the SQLite writer process: "),
        ("/bin/false", "the SQLite writer process exited (code 1) during open"),
    ],
)
async def test_a_writer_process_that_cannot_start_is_said_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python: str, reason: str
) -> None:
    monkeypatch.setattr(sys, "executable", python)
    store = SqliteStore(tmp_path)
    with pytest.raises(StoreUnavailable) as refused:
        await store.open(0.0, 32, 3600.0)
    assert str(refused.value).startswith(reason)
    assert "\n" not in str(refused.value)


def test_a_batch_retried_after_it_committed_is_applied_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / DATABASE_FILE, "process", 1000)
    run = RunRecord(
        "r1", 1, "running", 100.0, None, None, 100.0, 100.0, None, 5.0, 10.0, None,
        None, None, None, None, None, None, None, None, 1, 0, 100.0,
    )  # fmt: skip
    point = PointRecord(
        "r1", 0, 100.0, "progress", None, 5.0, 10.0, None, None, None, None, None, None, None, None
    )
    batch = WriteBatch(runs=[run], points=[point])

    commit(conn, "session-a", 1, batch)
    commit(conn, "session-a", 1, batch)  # the retry of a commit whose reply was lost
    assert conn.execute("SELECT count(*) FROM run_points").fetchone() == (1,)

    # A new server numbers its batches afresh: its batch 1 is not the old server's.
    commit(conn, "session-b", 1, batch)
    assert conn.execute("SELECT count(*) FROM run_points").fetchone() == (2,)
    commit(conn, "session-b", 2, batch)
    assert conn.execute("SELECT count(*) FROM run_points").fetchone() == (3,)


def test_a_database_of_an_earlier_schema_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_FILE
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    old.execute(
        "INSERT INTO runs (run_id, job_id, status, started_at, last_event_at, last_progress_at, "
        "samples, sample_level) VALUES ('kept', 1, 'succeeded', 1.0, 2.0, 2.0, 0, 0)"
    )
    old.close()

    conn = connect(path, "process", 1000)
    assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert conn.execute("SELECT session, last_batch FROM writer_state").fetchone() == ("", 0)
    succeeded = "SELECT run_id FROM runs INDEXED BY runs_succeeded WHERE status = 'succeeded'"
    assert conn.execute(succeeded).fetchall() == [("kept",)]


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_FILE
    sqlite3.connect(path).execute("PRAGMA user_version = 99").connection.close()
    with pytest.raises(Unavailable, match="schema version 99 is newer than this batchgate"):
        connect(path, "process", 1000)


def test_the_writer_ends_when_the_server_is_killed(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process()
    _, writer = server.pids()
    with SustainedPushes(server.url) as pushes:
        pushes.wait_for(100)
        server.kill()
    wait_gone(writer)
    restarted = server_process(data_dir=server.data_dir, port=server.port)
    assert pushes.missing_from(restarted.url) == []


def test_a_sigterm_to_the_whole_process_group_still_flushes(
    server_process: Callable[..., ServerProcess],
) -> None:
    """A service manager or Ctrl-C signals every process of the group: the writer ignores
    it and commits what the server flushes on its way out (it does not die first, to be
    started again by the server's last commit)."""
    server = server_process(new_session=True)
    assert server.process is not None
    _, writer = server.pids()
    with SustainedPushes(server.url) as pushes:
        pushes.wait_for(100)
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(20) == 0
    wait_gone(writer)
    assert "writer process exited" not in server.log.read_text()
    restarted = server_process(data_dir=server.data_dir, port=server.port)
    assert pushes.missing_from(restarted.url) == []
