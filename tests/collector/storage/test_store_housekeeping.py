"""A write-ahead log that a reader kept from starting over after the last commit is
copied into the database and emptied by the store's housekeeping, without waiting for
another commit."""

from __future__ import annotations

import sqlite3
from typing import Any

from batchgate.collector.http.app import create_app
from batchgate.collector.http.keys import STORE
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import DATABASE_FILE, SqliteStore
from tests.helpers import Clock, Server, push


async def test_a_log_held_past_its_checkpoint_size_is_emptied_once_the_reader_ends(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    store = SqliteStore(settings.data_dir, wal_checkpoint_bytes=64 * 1024)
    client = await aiohttp_client(Server(create_app(settings, clock=clock, store=store)))
    database = settings.data_dir / DATABASE_FILE
    await push(client, [{"job": "first", "event": "success"}])
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM runs").fetchone()
    held = store.wal_bytes() + store.wal_checkpoint_bytes
    message = "x" * 4000
    batch = 0
    while store.wal_bytes() < held:
        assert batch < 50, "the log did not grow"
        batch += 1
        await push(client, [{"job": f"bulk_{batch}_{i}", "event": "fail", "message": message}
                            for i in range(20)])  # fmt: skip
    assert client.app[STORE] is store
    await store.housekeeping()  # after the last commit's own checkpoint, in the writer's order
    assert store.wal_bytes() >= held, "held while the reader reads"

    reader.execute("COMMIT")
    reader.close()
    await store.housekeeping()
    assert store.wal_bytes() == 0, "the log was copied into the database"
    with sqlite3.connect(database) as conn:  # its pages are in the database now
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (1 + 20 * batch,)
