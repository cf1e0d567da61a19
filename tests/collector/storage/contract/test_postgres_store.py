"""What only the PostgreSQL store has: a server to reach, a password to keep to itself,
schema versions in a table, several nodes on one database, a server that restarts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import pytest

from batchgate.collector.core.records import AuditRecord, WriteBatch
from batchgate.collector.storage.postgres import schema
from batchgate.collector.storage.postgres.store import PostgresStore, StoreUnavailable
from batchgate.collector.storage.sqlite import schema as sqlite_schema
from tests.collector.storage.contract.records import NOW, job, run
from tests.postgres import Cluster


def test_both_stores_number_their_schema_alike() -> None:
    assert len(schema.MIGRATIONS) == len(sqlite_schema.MIGRATIONS)


async def _version(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT version FROM batchgate_schema"))
    finally:
        await conn.close()


async def test_it_migrates_a_database_made_by_an_older_batchgate(postgres: Cluster) -> None:
    url = postgres.database()
    conn = await asyncpg.connect(url)
    try:
        # Schema version 5, as a batchgate of that time left it, with a job and its run.
        await conn.execute(
            "CREATE TABLE batchgate_schema (id integer PRIMARY KEY CHECK (id = 1), "
            "version integer NOT NULL); INSERT INTO batchgate_schema VALUES (1, 5)"
        )
        for script in schema.MIGRATIONS[:5]:
            await conn.execute(script)
        await conn.execute(
            "INSERT INTO jobs VALUES (1, 'etl', '{}', 'job', 0, NULL, NULL, NULL, NULL, NULL, "
            "NULL, 'etl-1', '{}', '[]', 0, 0, '\\x01'::bytea)"
        )
        await conn.execute(
            "INSERT INTO runs (run_id, job_id, status, started_at, last_event_at, "
            "last_progress_at, samples, sample_level) VALUES ('etl-1', 1, 'running', 5, 5, 5, 0, 0)"
        )
    finally:
        await conn.close()
    store = PostgresStore(url)
    try:
        restored = await store.open(NOW, 32, 3600)
        (etl,) = restored.jobs
        assert list(etl.running) == ["etl-1"]
        assert restored.alive_at == 0.0  # version 7's column, with its default
        assert await store.alert_history(None, None, None, None, None, 5) == []  # version 8
    finally:
        await store.close()
    assert await _version(url) == len(schema.MIGRATIONS)


async def test_it_refuses_a_database_of_a_newer_batchgate(postgres: Cluster) -> None:
    url = postgres.database()
    store = PostgresStore(url)
    await store.open(NOW, 32, 3600)
    await store.close()
    conn = await asyncpg.connect(url)
    await conn.execute("UPDATE batchgate_schema SET version = version + 1")
    await conn.close()
    with pytest.raises(StoreUnavailable, match="newer than this batchgate"):
        await PostgresStore(url).open(NOW, 32, 3600)


async def test_nodes_starting_together_migrate_the_database_once(postgres: Cluster) -> None:
    url = postgres.database()
    stores = [PostgresStore(url) for _ in range(3)]
    try:
        await asyncio.gather(*(store.open(NOW, 32, 3600) for store in stores))
    finally:
        for store in stores:
            await store.close()
    assert await _version(url) == len(schema.MIGRATIONS)


async def test_a_wrong_password_is_refused_and_never_shown(
    postgres: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "correct-horse-battery-staple"
    url = postgres.url(postgres.database().rsplit("/", 1)[1], password=False)
    wrong = url.replace("batchgate@", f"batchgate:{secret}@")
    with pytest.raises(StoreUnavailable) as refused:
        await PostgresStore(wrong).open(NOW, 32, 3600)
    message = str(refused.value)
    assert "password authentication failed" in message
    assert "postgresql://batchgate:***@127.0.0.1" in message
    assert secret not in message
    assert secret not in caplog.text


async def test_an_unreachable_server_is_named_without_its_password(postgres: Cluster) -> None:
    url = f"postgresql://batchgate:{postgres.password}@127.0.0.1:1/batchgate"
    with pytest.raises(StoreUnavailable) as refused:
        await PostgresStore(url).open(NOW, 32, 3600)
    assert str(refused.value).startswith("cannot use database postgresql://batchgate:***@")
    assert postgres.password not in str(refused.value)


async def test_the_password_may_come_from_a_file_or_pgpassword(
    postgres: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = postgres.database().rsplit("/", 1)[1]
    bare = postgres.url(name, password=False)
    password_file = tmp_path / "password"
    password_file.write_text(postgres.password + "\n")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    with pytest.raises(StoreUnavailable):
        await PostgresStore(bare).open(NOW, 32, 3600)
    store = PostgresStore(bare, password_file=password_file)
    await store.open(NOW, 32, 3600)
    await store.close()
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    store = PostgresStore(bare)
    await store.open(NOW, 32, 3600)
    await store.close()
    with pytest.raises(StoreUnavailable, match="cannot read the database password file"):
        await PostgresStore(bare, password_file=tmp_path / "missing").open(NOW, 32, 3600)


async def test_commits_resume_once_the_server_is_back(postgres: Cluster) -> None:
    """The server restarts under the store: the commit meeting the broken connection fails
    (the writer retries it), the next one reconnects, and each batch is applied once."""
    store = PostgresStore(postgres.database())
    await store.open(NOW, 32, 3600)
    try:
        await store.commit(WriteBatch(jobs=[job(1)], runs=[run("r1", 1)]))
        await asyncio.to_thread(postgres.restart)
        batch = WriteBatch(runs=[run("r2", 1)], audit=[AuditRecord(NOW, "a", "b", "c", None)])
        failures = 0
        for _ in range(5):
            try:
                await store.commit(batch)
                break
            except Exception:
                failures += 1
                await asyncio.sleep(0.2)
        assert failures < 5
        assert {r.run_id for r in await store.get_runs(["r1", "r2"])} == {"r1", "r2"}
        assert len(await store.audit(10, None)) == 1
    finally:
        await store.close()
