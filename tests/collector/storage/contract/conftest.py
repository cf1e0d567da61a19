"""The stores under one contract: every test here runs on SQLite and on a real PostgreSQL,
the latter twice: writing the most common batches in one statement (as it does by default)
and every batch as a transaction of statements.

`make_store()` gives a store, not yet opened, on the test's own database: a data directory
in tmp_path, or a fresh database in the session's PostgreSQL cluster (tests.postgres).
Calling it again gives another store on the same database, as a restarted server would
have; every store it made is closed at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from batchgate.collector.storage.postgres.store import PostgresStore
from batchgate.collector.storage.sqlite.store import SqliteStore
from batchgate.collector.storage.store import Store
from tests.postgres import Cluster, need_postgres, running_cluster

MakeStore = Callable[[], Store]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """The session's PostgreSQL server (fsync off: these tests check behaviour, not disks)."""
    need_postgres()
    with running_cluster({"fsync": "off"}) as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgres", "postgres, statements"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[MakeStore]:
    made: list[Store] = []
    if store_kind.startswith("postgres"):
        url = request.getfixturevalue("postgres").database()
        one_statement = store_kind == "postgres"

        def new() -> Store:
            made.append(PostgresStore(url, one_statement=one_statement))
            return made[-1]
    else:

        def new() -> Store:
            made.append(SqliteStore(tmp_path / "data"))
            return made[-1]

    yield new
    for store in made:
        await store.close()
