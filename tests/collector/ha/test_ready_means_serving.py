"""`/-/ready` answers 200 only once the node answers every route: a load balancer, a
readiness probe or a test that waits for it must never then get a standby's 503."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web

from batchgate.collector.http import app as app_module
from batchgate.collector.http.alerting import alerting_context
from batchgate.collector.http.keys import INGEST
from batchgate.collector.http.standby import LEADERSHIP, serves
from batchgate.collector.settings import Settings
from batchgate.collector.storage.postgres.lease import LeaseTable
from tests.helpers import Client, until
from tests.postgres import Cluster


async def test_a_node_taking_over_is_ready_only_once_it_answers_everything(
    start: Callable[..., Awaitable[Client]],
    settings: Settings,
    postgres: Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres.database()
    # Alerting, the session's last part, starts only when the test says: the node has
    # restored its live state, but does not serve yet.
    alerting_may_start = asyncio.Event()

    def held_alerting(ruleset: Any) -> Callable[[web.Application], AsyncIterator[None]]:
        context = contextlib.asynccontextmanager(alerting_context(ruleset))

        async def held(app: web.Application) -> AsyncIterator[None]:
            await alerting_may_start.wait()
            async with context(app):
                yield

        return held

    monkeypatch.setattr(app_module, "alerting_context", held_alerting)
    # Another node holds the lease for a second: this one starts as a standby and takes
    # over when it expires.
    lease = LeaseTable(url, None, 5.0)
    await lease.prepare()
    await lease.claim("elsewhere", "http://elsewhere", 1.0, None)
    await lease.close()
    client = await start(store_url=url, ha=replace(settings.ha, lease=1.0, node_name="here"))

    async def restored_but_not_serving() -> bool:
        return client.app[LEADERSHIP].leads and client.app[INGEST].not_leader is None

    await until(restored_but_not_serving, within=15)
    assert not serves(client.app)
    assert (await client.get("/-/ready")).status == 503
    assert (await client.get("/jobs")).status == 503

    alerting_may_start.set()

    async def ready() -> bool:
        return (await client.get("/-/ready")).status == 200

    await until(ready)
    assert (await client.get("/jobs")).status == 200
