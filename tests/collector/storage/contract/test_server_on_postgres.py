"""The whole server on PostgreSQL: what it was told survives a restart and a `kill -9`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from batchgate.collector.http.keys import STORE
from batchgate.collector.storage.postgres.store import PostgresStore
from tests.helpers import (
    Client,
    Clock,
    ServerProcess,
    SustainedPushes,
    evaluate_rules,
    get,
    push,
    until,
)
from tests.postgres import Cluster

Start = Callable[..., Awaitable[Client]]

GROUP = '# TYPE backup_bytes gauge\nbackup_bytes{disk="a"} 1234\n'


async def test_a_restarted_server_on_postgres_restores_everything(
    start: Start, clock: Clock, postgres: Cluster
) -> None:
    url = postgres.database()
    client = await start(store_url=url)
    assert isinstance(client.app[STORE], PostgresStore)
    await push(client, [
        {"job": "etl", "labels": {"env": "prod"}, "event": "start", "run_id": "etl-1"},
        {"job": "etl", "labels": {"env": "prod"}, "event": "progress", "run_id": "etl-1",
         "progress": {"done": 10, "total": 40}, "message": "loading\u0000rows"},
        {"job": "report", "event": "start", "run_id": "rep-1"},
    ])  # fmt: skip
    clock.advance(30)
    await push(client, {"job": "report", "event": "success", "run_id": "rep-1"})
    await push(client, {"job": "backup", "event": "start", "run_id": "b-1"})
    await push(client, {"job": "backup", "event": "fail", "run_id": "b-1", "exit_code": 3})
    response = await client.put("/metrics/job/nightly/host/db1", data=GROUP.encode())
    assert response.status == 200
    await evaluate_rules(client)
    before = {
        "jobs": await get(client, "/jobs"),
        "etl": await get(client, "/runs/etl-1"),
        "trends": await get(client, "/jobs/report/trends", period="24h"),
        "alerts": await get(client, "/alerts"),
        "history": await get(client, "/alerts/history"),
    }
    assert any(a["alertname"] == "JobFailed" for a in before["alerts"]["alerts"])
    await client.close()

    client = await start(store_url=url)
    after = {
        "jobs": await get(client, "/jobs"),
        "etl": await get(client, "/runs/etl-1"),
        "trends": await get(client, "/jobs/report/trends", period="24h"),
        "alerts": await get(client, "/alerts"),
        "history": await get(client, "/alerts/history"),
    }
    assert after == before
    assert after["etl"]["status"] == "running"
    assert after["etl"]["progress"]["done"] == 10
    assert after["etl"]["message"] == "loading\u0000rows"
    # The dashboard's pages read the store too.
    for page in ("/", "/ui/jobs", "/ui/jobs/etl?env=prod", "/ui/runs/etl-1", "/ui/alerts",
                 "/ui/groups", "/summary", "/audit", "/groups/history"):  # fmt: skip
        response = await client.get(page)
        assert response.status == 200, (page, await response.text())
    metrics = await (await client.get("/metrics")).text()
    assert 'backup_bytes{disk="a",host="db1",instance="",job="nightly"} 1234' in metrics
    clock.advance(5)
    await push(client, {"job": "etl", "labels": {"env": "prod"}, "event": "success",
                        "run_id": "etl-1"})  # fmt: skip
    assert (await get(client, "/runs/etl-1"))["duration_seconds"] == 35


async def test_an_event_id_is_applied_once_across_a_restart_on_postgres(
    start: Start, clock: Clock, postgres: Cluster
) -> None:
    url = postgres.database()
    client = await start(store_url=url)
    event = {"job": "sync", "event": "success", "event_id": "once", "duration_seconds": 1}
    await push(client, event)
    await client.close()
    clock.advance(2 * 3600)  # beyond the in-memory window: the store answers
    client = await start(store_url=url)
    again = await push(client, {**event, "timestamp": clock.now - 2 * 3600})
    assert again["duplicates"] == 1
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["runs"] == {"succeeded": 1}


def test_a_server_on_postgres_loses_no_acknowledged_push_when_killed(
    server_process: Callable[..., ServerProcess],
    postgres: Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = postgres.database().rsplit("/", 1)[1]
    # The password from the environment, as a service manager would give it.
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    url = postgres.url(database, password=False)
    server = server_process("--store-url", url)
    with SustainedPushes(server.url) as pushes:
        pushes.wait_for(300)
        server.kill()
    restarted = server_process("--store-url", url, data_dir=server.data_dir, port=server.port)
    missing = pushes.missing_from(restarted.url)
    assert missing == [], f"{len(missing)} of {len(pushes.acknowledged)} acknowledged runs lost"
    # Nothing was written to the data directory: the history is in PostgreSQL.
    assert not (server.data_dir / "batchgate.db").exists()
    assert postgres.password not in server.log.read_text()


def test_the_password_in_the_url_is_never_logged(
    server_process: Callable[..., ServerProcess], postgres: Cluster
) -> None:
    url = postgres.database()
    server = server_process("--store-url", url, "--log-level", "debug")
    with SustainedPushes(server.url, workers=1) as pushes:
        pushes.wait_for(20)
    assert server.stop() == 0
    log = server.log.read_text()
    assert "restored" in log
    assert postgres.password not in log


async def test_a_database_outage_answers_503_and_heals_by_itself(
    start: Start, postgres: Cluster
) -> None:
    """PostgreSQL goes away under a running server: pushes are refused with 503 (none is
    acknowledged that is not committed), /health says why without the password, reads of
    what is in memory go on, and once the database is back everything held is stored."""
    url = postgres.database()
    client = await start(store_url=url, push_timeout=0.5)
    await push(client, {"job": "etl", "event": "start", "run_id": "acknowledged"})
    await asyncio.to_thread(postgres.halt)
    try:
        # Progress of a run in memory is applied, and held until it can be stored.
        held = {"job": "etl", "event": "progress", "run_id": "acknowledged",
                "progress": {"done": 5}}  # fmt: skip
        assert "not yet durable" in (await push(client, held, 503))["error"]
        health = await get(client, "/health", 503)
        assert health["status"] == "unhealthy"
        assert {reason["check"] for reason in health["reasons"]} >= {"store_writes"}
        assert postgres.password not in json.dumps(health)
        refused = await push(client, {"job": "etl", "event": "start", "run_id": "refused"}, 503)
        assert "nothing was applied" in refused["error"]
        # What memory holds is served; what only the database has is a 503, not a 500.
        (etl,) = (await get(client, "/jobs"))["jobs"]
        assert etl["running_runs"] == 1
        assert (await client.get("/runs/acknowledged")).status == 503
    finally:
        await asyncio.to_thread(postgres.resume)

    async def healthy() -> bool:
        response = await client.get("/health")
        return bool((await response.json())["status"] == "healthy")

    await until(healthy, within=15)  # the writer's next retry: within 2 s of backoff
    await push(client, {"job": "etl", "event": "start", "run_id": "after"})
    await client.close()

    client = await start(store_url=url)
    for run_id in ("acknowledged", "after"):
        assert (await get(client, f"/runs/{run_id}"))["status"] == "running"
    assert (await get(client, "/runs/acknowledged"))["progress"]["done"] == 5
    assert (await client.get("/runs/refused")).status == 404
