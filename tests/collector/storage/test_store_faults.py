"""When the database refuses writes, batchgate says so, refuses new pushes with 503, loses
nothing it applied, and recovers by itself once the database is writable again."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from batchgate.collector.http.app import create_app
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import DATABASE_FILE, SqliteStore
from tests.helpers import Client, Clock, Server, checked, get, push, until


async def test_it_holds_pushes_while_the_database_is_locked_and_recovers(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> None:
    settings = replace(settings, push_timeout=0.5)

    async def start() -> Client:
        store = SqliteStore(settings.data_dir, busy_timeout=0.05)
        return await aiohttp_client(Server(create_app(settings, clock=clock, store=store)))  # type: ignore[no-any-return]

    client = await start()
    await push(client, {"job": "etl", "event": "start", "run_id": "acknowledged"})

    blocker = sqlite3.connect(settings.data_dir / DATABASE_FILE, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    held = await push(client, {"job": "etl", "event": "start", "run_id": "held"}, 503)
    assert "not yet durable" in held["error"]

    health = await get(client, "/health", 503)
    assert health["status"] == "unhealthy"
    assert health["reasons"][0]["check"] == "store_writes"
    assert "locked" in health["reasons"][0]["reason"]
    refused = await push(client, {"job": "etl", "event": "start", "run_id": "refused"}, 503)
    assert "nothing was applied" in refused["error"]
    assert (await client.get("/runs/acknowledged")).status == 200, "reads keep working"
    reload = await client.post("/-/reload")  # its audit entry cannot be stored: 503, not 500
    assert reload.status == 503
    assert reload.headers["Retry-After"] == "5"
    assert "not yet durable" in (await reload.json())["error"]

    blocker.execute("ROLLBACK")
    blocker.close()

    async def healthy() -> bool:
        response = await client.get("/health")
        return bool((await response.json())["status"] == "healthy")

    await until(healthy, within=15)  # the writer's next retry: within 2 s of backoff
    await push(client, {"job": "etl", "event": "start", "run_id": "after"})
    await client.close()

    client = await start()
    for run_id in ("acknowledged", "held", "after"):
        assert (await get(client, f"/runs/{run_id}"))["status"] == "running"
    assert (await client.get("/runs/refused")).status == 404
    await checked(await client.get("/health"))
