"""`batchgate migrate --from DIR --to postgresql://...`: a history made on SQLite is served
the same from PostgreSQL; copying again changes nothing; a database a server wrote to is
refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from batchgate.collector.settings import Settings
from batchgate.collector.storage.postgres import schema
from batchgate.collector.storage.postgres.copy import DERIVED, OWN_STATE, TABLES
from batchgate.rules.payloads import format_time
from tests.helpers import (
    IMPORT_ROOT,
    REPO,
    Client,
    Clock,
    ServerProcess,
    checked,
    evaluate_rules,
    get,
    push,
)
from tests.postgres import Cluster

Start = Callable[..., Awaitable[Client]]


def migrate(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchgate", "migrate", "--from", str(data_dir), "--to", url],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
        env={**os.environ, "PYTHONPATH": IMPORT_ROOT},
    )  # fmt: skip


def _get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as answer:
        return json.loads(answer.read())


def _jobs(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (job["job"], json.dumps(job["labels"], sort_keys=True)): job
        for job in _get(url, "/jobs?limit=1000")["jobs"]
    }


async def _everything(client: Client) -> dict[str, Any]:
    return {
        "jobs": await get(client, "/jobs"),
        "etl": await get(client, "/runs/etl-1"),
        "failed": await get(client, "/runs/b-1"),
        "runs": await get(client, "/jobs/etl/runs"),
        "trends": await get(client, "/jobs/etl/trends", period="7d"),
        "alerts": await get(client, "/alerts"),
        "history": await get(client, "/alerts/history"),
        "silences": await get(client, "/silences"),
        "groups": await get(client, "/api/v1/metrics"),
        "group history": await get(client, "/groups/history"),
        "audit": await get(client, "/audit"),
    }


async def test_a_copied_history_is_served_the_same_from_postgres(
    start: Start, clock: Clock, settings: Settings, postgres: Cluster
) -> None:
    client = await start()
    for n in range(1, 4):
        await push(client, {"job": "etl", "event": "start", "run_id": f"etl-{n}"})
        clock.advance(10 * n)
        await push(client, {"job": "etl", "event": "progress", "run_id": f"etl-{n}",
                            "progress": {"done": n * 100, "total": 300}})  # fmt: skip
        clock.advance(5)
        if n < 3:
            await push(client, {"job": "etl", "event": "success", "run_id": f"etl-{n}"})
    await push(client, {"job": "backup", "event": "start", "run_id": "b-1"})
    await push(client, {"job": "backup", "event": "fail", "run_id": "b-1", "exit_code": 1})
    for job in ("nightly", "hourly"):
        response = await client.put(f"/metrics/job/{job}", data=b"# TYPE up gauge\nup 1\n")
        assert response.status == 200
    assert (await client.delete("/metrics/job/hourly")).status == 202
    silence = {"matchers": [{"name": "job", "value": "report", "isRegex": False}],
               "startsAt": format_time(clock.now), "endsAt": format_time(clock.now + 3600),
               "createdBy": "alice", "comment": "moving"}  # fmt: skip
    await checked(await client.post("/silences", json=silence))
    await evaluate_rules(client)
    await client.close()
    # What a restarted server shows on SQLite (a restart shows what the store keeps: the
    # time a job was last seen is stored with its runs' starts and ends, not their progress).
    client = await start()
    on_sqlite = await _everything(client)
    assert on_sqlite["history"]["events"]
    assert on_sqlite["audit"]["entries"]
    await client.close()

    url = postgres.database()
    copied = migrate(settings.data_dir, url)
    assert copied.returncode == 0, copied.stderr
    assert "runs: 4 of 4 rows" in copied.stderr
    assert copied.stdout.startswith("batchgate: copied ")
    assert "(4 runs of 2 jobs)" in copied.stdout
    assert postgres.password not in copied.stdout + copied.stderr
    again = migrate(settings.data_dir, url)
    assert (again.returncode, again.stdout) == (0, copied.stdout)

    client = await start(store_url=url)
    assert await _everything(client) == on_sqlite
    # The server carries on from the copy: new alert history after the copied one.
    await push(client, {"job": "backup", "event": "start", "run_id": "b-2"})
    await push(client, {"job": "backup", "event": "success", "run_id": "b-2"})
    await evaluate_rules(client)
    events = (await get(client, "/alerts/history"))["events"]
    assert len(events) > len(on_sqlite["history"]["events"])
    await client.close()

    refused = migrate(settings.data_dir, url)
    assert refused.returncode == 1
    assert "already holds a history written by a batchgate server" in refused.stderr


async def test_every_table_is_copied_or_filled_again(postgres: Cluster) -> None:
    """A table added to the schema must be added to the copy too (or to what the database
    fills again itself)."""
    conn = await asyncpg.connect(postgres.database())
    try:
        await schema.migrate(conn)
        tables = {
            name
            for (name,) in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
    finally:
        await conn.close()
    copied = {table.name for table in TABLES}
    assert tables - set(OWN_STATE) == copied | set(DERIVED)


def test_migrate_names_what_is_wrong_in_one_line(tmp_path: Path, postgres: Cluster) -> None:
    nothing = migrate(tmp_path, postgres.database())
    assert (nothing.returncode, nothing.stderr.strip()) == (
        1, f"batchgate: no batchgate history in {tmp_path} (no batchgate.db)",
    )  # fmt: skip
    bad = migrate(tmp_path, "mysql://u:s3cret@h/db")
    assert bad.returncode == 2
    assert "s3cret" not in bad.stderr


def test_a_history_made_by_the_demo_moves_to_postgres(
    server_process: Callable[..., ServerProcess], postgres: Cluster
) -> None:
    server = server_process()
    demo = subprocess.run(
        [sys.executable, "-m", "batchgate", "demo", "--url", server.url, "--duration", "6"],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
        env={**os.environ, "PYTHONPATH": IMPORT_ROOT, "BATCHGATE_SPOOL_DIR": "off"},
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    groups = _get(server.url, "/api/v1/metrics")["data"]
    jobs = _jobs(server.url)
    assert len(jobs) >= 5
    assert groups
    server.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert server.process.wait(30) == 0  # type: ignore[union-attr]

    url = postgres.database()
    copied = migrate(server.data_dir, url)
    assert copied.returncode == 0, copied.stderr
    moved = server_process("--store-url", url, data_dir=server.data_dir / "unused")

    def stable(found: dict[tuple[str, str], dict[str, Any]]) -> dict[Any, Any]:
        """What time does not change: each job's runs and its last run."""
        return {key: (job["runs"], (job.get("last_run") or {}).get("run_id"))
                for key, job in found.items()}  # fmt: skip

    assert stable(_jobs(moved.url)) == stable(jobs)
    moved_groups = _get(moved.url, "/api/v1/metrics")["data"]
    assert sorted(g["labels"]["job"] for g in moved_groups) == sorted(
        g["labels"]["job"] for g in groups
    )
