"""What the server asks of a store besides history: that it can be read (health checks),
its upkeep, and the size of any write-ahead log of its own against its bound."""

from __future__ import annotations

from batchgate.collector.core.records import WriteBatch
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, run


async def test_an_open_store_answers_health_checks_and_upkeep(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.check()
    await store.commit(WriteBatch(jobs=[job(1)], runs=[run(f"r{n}", 1) for n in range(200)]))
    await store.housekeeping()
    await store.check()
    size = store.wal_bytes()
    assert size >= 0
    if store.wal_limit_bytes:  # a log of its own (SQLite's), kept under its bound
        assert size <= store.wal_limit_bytes
    else:  # PostgreSQL's log is the database server's
        assert size == 0
    assert len(await store.get_runs([f"r{n}" for n in range(200)])) == 200
