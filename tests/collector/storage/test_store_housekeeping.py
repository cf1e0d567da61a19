"""The write-ahead log is checkpointed off the commit path, so it does not grow without
bound and no push waits for a checkpoint."""

from __future__ import annotations

import sqlite3

from batchgate.collector.http.keys import STORE
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import (
    DATABASE_FILE,
    WAL_CHECKPOINT_BYTES,
    SqliteStore,
)
from tests.helpers import Client, push


async def test_a_grown_log_is_checkpointed_into_the_database(
    client: Client, settings: Settings
) -> None:
    database = settings.data_dir / DATABASE_FILE
    wal = database.with_name(database.name + "-wal")
    message = "x" * 4000
    batch = 0
    while wal.stat().st_size < WAL_CHECKPOINT_BYTES:
        batch += 1
        await push(client, [{"job": f"bulk_{batch}_{i}", "event": "fail", "message": message}
                            for i in range(100)])  # fmt: skip
    before = database.stat().st_size
    store = client.server.app[STORE]
    assert isinstance(store, SqliteStore)
    await store.housekeeping()
    assert database.stat().st_size > before + WAL_CHECKPOINT_BYTES // 2, "pages moved in"
    with sqlite3.connect(database) as conn:
        busy, frames, checkpointed = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames - checkpointed) == (0, 0), "nothing was left in the log"
