"""The write-ahead log stays under its bound while commits never stop and readers query
meanwhile, and while retention deletes a long history; /metrics shows its size, and
/health says so when a reader holds it past its bound."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from batchgate.collector.core.records import RunRecord, WriteBatch
from batchgate.collector.http.app import create_app
from batchgate.collector.http.keys import STORE
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import DATABASE_FILE, SqliteStore
from batchgate.collector.storage.sqlite.writer import WalKeeper, commit, connect, prune
from tests.helpers import Client, Clock, Server, get, push

KiB = 1024
PUSHES = 40
"""Pushes by each of two writers in the soak: about 8 MiB of history in all."""


async def start(aiohttp_client: Any, settings: Settings, clock: Clock, **store: Any) -> Client:
    sqlite = SqliteStore(settings.data_dir, **store)
    app = create_app(settings, clock=clock, store=sqlite)
    return await aiohttp_client(Server(app))  # type: ignore[no-any-return]


def runs(worker: int, number: int, count: int = 50) -> list[dict[str, object]]:
    """`count` runs over 40 jobs, each a start and a success with progress and a message
    of 1,000 characters (about 2 KiB of history with its timeline)."""
    events: list[dict[str, object]] = []
    for i in range(count):
        job, run_id = f"soak_{(number * count + i) % 40}", f"w{worker}-{number}-{i}"
        events.append({"job": job, "event": "start", "run_id": run_id})
        events.append(
            {"job": job, "event": "success", "run_id": run_id, "progress": {"done": 100 + i},
             "message": f"{run_id} " + "x" * 1000}
        )  # fmt: skip
    return events


async def test_the_log_stays_under_its_bound_while_commits_never_stop(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    limit = 2048 * KiB
    client = await start(
        aiohttp_client, settings, clock, wal_checkpoint_bytes=128 * KiB, wal_limit_bytes=limit
    )
    database = settings.data_dir / DATABASE_FILE
    wal = database.with_name(database.name + "-wal")
    largest = 0
    writing = 2

    async def write(worker: int) -> None:
        nonlocal largest, writing
        for number in range(PUSHES):
            await push(client, runs(worker, number))
            largest = max(largest, wal.stat().st_size)
        writing -= 1

    async def read() -> None:
        """A dashboard open meanwhile: its queries read snapshots of the database."""
        while writing:
            await get(client, "/summary")
            await get(client, "/jobs/soak_7/runs")
            await get(client, "/jobs/soak_7/trends?period=7d")

    await asyncio.gather(write(0), write(1), read())
    assert largest <= limit, f"the log reached {largest} bytes, past its bound of {limit}"
    assert (await get(client, "/health"))["status"] == "healthy"
    await client.close()
    # Every page of the database went through the log: had no checkpoint emptied it, the
    # log would have held at least this much.
    assert database.stat().st_size > 3 * limit


async def test_metrics_show_the_log_and_health_says_when_a_reader_holds_it(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    limit = 256 * KiB
    # Each checkpoint past half the bound waits for the open reader: a short wait keeps
    # the test quick.
    client = await start(
        aiohttp_client, settings, clock, busy_timeout=0.05,
        wal_checkpoint_bytes=64 * KiB, wal_limit_bytes=limit,
    )  # fmt: skip
    database = settings.data_dir / DATABASE_FILE
    wal = database.with_name(database.name + "-wal")

    # A reader whose transaction stays open (a long query, a backup tool) holds every page
    # written since it began in the log: no checkpoint can empty it meanwhile.
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM runs").fetchone()
    number = 0
    while wal.stat().st_size <= limit:
        assert number < 200, "the log did not grow"
        await push(client, runs(0, number))
        number += 1

    metrics = await (await client.get("/metrics")).text()
    (line,) = [line for line in metrics.splitlines() if line.startswith("batchgate_store_wal_b")]
    store = client.app[STORE]
    held = float(line.split()[1])
    assert held == store.wal_bytes() > limit
    health = await get(client, "/health")
    assert health["status"] == "degraded"
    (reason,) = [r for r in health["reasons"] if r["check"] == "store_wal"]
    assert "past its bound of 0.2 MiB" in reason["reason"]

    reader.execute("COMMIT")
    reader.close()
    await push(client, runs(0, number))
    await store.housekeeping()  # after the commit's own checkpoint, in the writer's order
    assert store.wal_bytes() <= limit
    assert (await get(client, "/health"))["status"] == "healthy"
    # The checkpoint that waited for the reader emptied the log's file: the next commit
    # writes it from its start.
    await push(client, runs(0, number + 1))
    assert wal.stat().st_size <= limit


def succeeded_run(i: int) -> RunRecord:
    """A run of a minute, finished long ago, with a message of 200 characters."""
    started = 100.0 + i
    return RunRecord(
        f"old-{i}", i % 7, "succeeded", started, started + 60, 60.0, started + 60,
        started + 60, None, 5.0, 10.0, None, None, None, None, None, None,
        "done " + "x" * 200, None, None, 1, 0, started,
    )  # fmt: skip


def test_retention_deletes_a_long_history_in_transactions_the_log_can_hold(
    tmp_path: Path,
) -> None:
    path = tmp_path / DATABASE_FILE
    conn = connect(path, "process", 1000)
    keeper = WalKeeper(conn, path, 64 * KiB, 1024 * KiB, 1000)
    stored = 6000
    for first in range(0, stored, 1000):
        batch = WriteBatch(runs=[succeeded_run(i) for i in range(first, first + 1000)])
        commit(conn, "session", first // 1000 + 1, batch)
        keeper.after_write()
    logs: list[int] = []

    def between() -> None:
        logs.append(keeper.size())
        keeper.after_write()

    deleted = prune(conn, 1e9, 10_000, 0.0, between)

    assert len(deleted) == stored
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    # Deleting them in one transaction would put every page of the runs in the log at once.
    assert path.stat().st_size > 2 * keeper.limit_bytes
    assert max(logs) <= keeper.limit_bytes, f"the log reached {max(logs)} bytes"
