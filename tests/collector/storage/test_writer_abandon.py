"""A leader that loses its lease stops its writer: the pushes still waiting for a commit that
will not be made here are refused at once (503, retry with the leader), not after each has
waited out push_timeout."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from batchgate.collector.core.records import AuditRecord
from batchgate.collector.storage.sqlite.store import DATABASE_FILE, SqliteStore
from batchgate.collector.storage.writer import StorageFailing, Writer
from tests.helpers import until


async def test_the_waiters_of_an_abandoned_writer_are_refused_at_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path, busy_timeout=0.05)
    await store.open(time.time(), 32, 3600.0)
    writer = Writer(store, patience=30.0)
    writer.start()
    # The database refuses every commit (locked), as a fenced one would be refused.
    blocker = sqlite3.connect(tmp_path / DATABASE_FILE, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        writer.stage_audit(AuditRecord(time.time(), "admin", "delete", "job etl", None))
        waiting = asyncio.ensure_future(writer.durable())

        async def commit_failed() -> bool:
            return writer.error is not None

        await until(commit_failed)
        await writer.stop(grace=0.1)
        writer.abandon("this node lost the leadership lease; retry with the leader")
        with pytest.raises(StorageFailing, match="lost the leadership lease"):
            await asyncio.wait_for(waiting, 5.0)  # not the 30 s of patience
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        await store.close()
