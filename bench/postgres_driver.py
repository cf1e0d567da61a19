"""Which PostgreSQL driver for the store: asyncpg or psycopg 3, measured on the same server.

    python -m bench.postgres_driver [--rounds 3] [--commits 200]

Starts its own PostgreSQL cluster (Debian's `postgresql`, as the tests do, with the
server's default settings: fsync and synchronous_commit on), creates batchgate's schema,
and for each driver, in alternating rounds on one database:

- commits group commits shaped as batchgate's writer makes them: "pushes" (what 12 single
  pushes under 16 connections make: 4 job upserts, 12 run upserts, 12 progress updates,
  6 timeline points, 2 event ids) and "batches" (12 pushes of 100 events: 100 jobs, 600
  runs, 600 progress updates, 300 points, 50 event ids), each one transaction with the
  writer_state update, as the store commits (with asyncpg also as one statement a table,
  every column an array: "asyncpg unnest");
- reads as the API makes them: 50 runs by id, a job's newest 50 runs, and a job's trends
  (counts, average, percentiles in SQL) over 20,000 runs.

It reports the median and 95th percentile time of each, and the client's CPU time per
commit (the event loop's share: batchgate's loop is what runs out first). Figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import platform
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg

from batchgate.collector.core.records import JobRecord, PointRecord, RunRecord
from batchgate.collector.storage.postgres.schema import MIGRATIONS
from tests.postgres import running_cluster

JOBS = 1_000
STATS_RUNS = 20_000

_RUNS = RunRecord._fields
_JOBS = (*JobRecord._fields, "key_digest")
_POINTS = PointRecord._fields
_PROGRESS = [c for c in _RUNS if c not in ("run_id", "job_id", "started_at", "status")]
_PROGRESS_AT = [_RUNS.index(c) for c in _PROGRESS]


def _upsert(table: str, columns: tuple[str, ...], key: str, mark: Callable[[int], str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in (key, "job_id"))
    marks = ", ".join(mark(i) for i in range(1, len(columns) + 1))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def statements(mark: Callable[[int], str]) -> dict[str, str]:
    return {
        "job": _upsert("jobs", _JOBS, "id", mark),
        "run": _upsert("runs", _RUNS, "run_id", mark),
        "progress": "UPDATE runs SET "
        + ", ".join(f"{c} = {mark(i)}" for i, c in enumerate(_PROGRESS, start=1))
        + f" WHERE run_id = {mark(len(_PROGRESS) + 1)}",
        "point": f"INSERT INTO run_points ({', '.join(_POINTS)}) VALUES "
        f"({', '.join(mark(i) for i in range(1, len(_POINTS) + 1))})",
        "seen": "INSERT INTO seen_events (event_id, run_id, received_at) VALUES "
        f"({mark(1)}, {mark(2)}, {mark(3)}) ON CONFLICT DO NOTHING",
        "state": f"UPDATE writer_state SET session = {mark(1)}, last_batch = {mark(2)}, "
        f"alive_at = {mark(3)}",
        "get_runs": f"SELECT * FROM runs r JOIN jobs j ON j.id = r.job_id "
        f"WHERE r.run_id = ANY({mark(1)})",
        "list_runs": f"SELECT * FROM runs r JOIN jobs j ON j.id = r.job_id "
        f"WHERE r.job_id = ANY({mark(1)}) ORDER BY r.started_at DESC, r.run_id DESC LIMIT 50",
        "stats": "SELECT count(*), avg(duration), max(duration), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration), "
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY duration) FROM runs "
        f"WHERE job_id = ANY({mark(1)}) AND status = 'succeeded' AND started_at >= {mark(2)}",
    }


ASYNCPG = statements(lambda i: f"${i}")
PSYCOPG = statements(lambda i: "%s")


def _job(job_id: int, now: float) -> tuple[Any, ...]:
    name, labels = f"job_{job_id}", '{"env":"prod"}'
    digest = hashlib.sha256(f"{name}\0{labels}".encode()).digest()
    buckets = "[0,0,1,2,0,0,0,0,0,0,0]"
    return (job_id, name, labels, "job", now, now, now, now, None, now, 12.5,
            f"run-{job_id}", '{"succeeded":3}', buckets, 30.0, 3, digest)  # fmt: skip


def _run(run_id: str, job_id: int, now: float, status: str = "running") -> tuple[Any, ...]:
    return (run_id, job_id, status, now - 60, None if status == "running" else now,
            None if status == "running" else 60.0, now, now, 42.0, 420.0, 1000.0, 0.0,
            12.5, 1.5e8, 1e6, 2e6, '{"rows":420}', None, None, None, 3, 0, now)  # fmt: skip


def _point(run_id: str, seq: int, now: float) -> tuple[Any, ...]:
    return (run_id, seq, now, "progress", 42.0, 420.0, 1000.0, 0.0, 12.5, 1.5e8, 1e6, 2e6,
            None, None, None)  # fmt: skip


def _progress(run: tuple[Any, ...]) -> tuple[Any, ...]:
    """A run's progress update: the changing columns, then its id."""
    return (*(run[i] for i in _PROGRESS_AT), run[0])


class Batch:
    """One group commit's records, as tuples in the tables' column order."""

    def __init__(self, shape: str, number: int, now: float, rng: random.Random) -> None:
        jobs, runs, progress, points, seen = {
            "pushes": (4, 12, 12, 6, 2),
            "batches": (100, 600, 600, 300, 50),
        }[shape]
        self.jobs = [_job(job_id, now) for job_id in rng.sample(range(JOBS), jobs)]
        self.runs = [_run(f"{shape}-{number}-{i}", i % JOBS, now) for i in range(runs)]
        # Progress on runs committed by the previous batch of the same shape.
        self.progress = [
            _progress(_run(f"{shape}-{number - 1}-{i}", i % JOBS, now))
            for i in range(min(progress, runs))
        ] if number > 0 else []  # fmt: skip
        self.points = [_point(f"{shape}-{number}-{i}", 1, now) for i in range(points)]
        self.seen = [
            (f"ev-{shape}-{number}-{i}", f"{shape}-{number}-{i}", now) for i in range(seen)
        ]
        self.number = number
        self.now = now


async def commit_asyncpg(conn: asyncpg.Connection, batch: Batch) -> None:
    async with conn.transaction():
        await conn.executemany(ASYNCPG["job"], batch.jobs)
        await conn.executemany(ASYNCPG["run"], batch.runs)
        if batch.progress:
            await conn.executemany(ASYNCPG["progress"], batch.progress)
        await conn.executemany(ASYNCPG["point"], batch.points)
        await conn.executemany(ASYNCPG["seen"], batch.seen)
        await conn.execute(ASYNCPG["state"], "bench", batch.number, batch.now)


_TYPES = {
    "run_id": "text", "job_id": "bigint", "status": "text", "metrics": "text", "message": "text",
    "exit_code": "bigint", "samples": "bigint", "sample_level": "bigint", "id": "bigint",
    "name": "text", "labels": "text", "kind": "text", "last_run_id": "text", "counts": "text",
    "duration_buckets": "text", "duration_count": "bigint", "key_digest": "bytea", "seq": "bigint",
    "event": "text", "event_id": "text",
}  # fmt: skip


def _unnest(columns: tuple[str, ...] | list[str]) -> str:
    arrays = ", ".join(
        f"${i}::{_TYPES.get(c, 'double precision')}[]" for i, c in enumerate(columns, start=1)
    )
    return f"SELECT * FROM unnest({arrays})"


def _unnest_upsert(table: str, columns: tuple[str, ...], key: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in (key, "job_id"))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {_unnest(columns)} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


UNNEST = {
    "job": _unnest_upsert("jobs", _JOBS, "id"),
    "run": _unnest_upsert("runs", _RUNS, "run_id"),
    "progress": "UPDATE runs SET "
    + ", ".join(f"{c} = u.{c}" for c in _PROGRESS)
    + f" FROM ({_unnest([*_PROGRESS, 'run_id'])}) AS u({', '.join([*_PROGRESS, 'run_id'])})"
    + " WHERE runs.run_id = u.run_id",
    "point": f"INSERT INTO run_points ({', '.join(_POINTS)}) {_unnest(_POINTS)}",
    "seen": "INSERT INTO seen_events (event_id, run_id, received_at) "
    f"{_unnest(('event_id', 'run_id', 'received_at'))} ON CONFLICT DO NOTHING",
}


async def commit_asyncpg_unnest(conn: asyncpg.Connection, batch: Batch) -> None:
    """One statement a table: each column an array."""
    async with conn.transaction():
        for name, rows in (("job", batch.jobs), ("run", batch.runs), ("progress", batch.progress),
                           ("point", batch.points), ("seen", batch.seen)):  # fmt: skip
            if rows:
                await conn.execute(UNNEST[name], *map(list, zip(*rows, strict=True)))
        await conn.execute(ASYNCPG["state"], "bench", batch.number, batch.now)


async def commit_psycopg(conn: psycopg.AsyncConnection[Any], batch: Batch) -> None:
    """executemany per table (psycopg pipelines each one)."""
    async with conn.transaction(), conn.cursor() as cursor:
        await cursor.executemany(PSYCOPG["job"], batch.jobs)
        await cursor.executemany(PSYCOPG["run"], batch.runs)
        if batch.progress:
            await cursor.executemany(PSYCOPG["progress"], batch.progress)
        await cursor.executemany(PSYCOPG["point"], batch.points)
        await cursor.executemany(PSYCOPG["seen"], batch.seen)
        await cursor.execute(PSYCOPG["state"], ("bench", batch.number, batch.now))


async def commit_psycopg_pipeline(conn: psycopg.AsyncConnection[Any], batch: Batch) -> None:
    """The whole transaction in one pipeline: BEGIN to COMMIT in one round trip."""
    async with conn.pipeline(), conn.transaction(), conn.cursor() as cursor:
        await cursor.executemany(PSYCOPG["job"], batch.jobs)
        await cursor.executemany(PSYCOPG["run"], batch.runs)
        if batch.progress:
            await cursor.executemany(PSYCOPG["progress"], batch.progress)
        await cursor.executemany(PSYCOPG["point"], batch.points)
        await cursor.executemany(PSYCOPG["seen"], batch.seen)
        await cursor.execute(PSYCOPG["state"], ("bench", batch.number, batch.now))


async def reads_asyncpg(conn: asyncpg.Connection, ids: list[str]) -> dict[str, float]:
    return {
        "get 50 runs": await _timed(lambda: conn.fetch(ASYNCPG["get_runs"], ids)),
        "list 50 runs": await _timed(lambda: conn.fetch(ASYNCPG["list_runs"], [7])),
        "trends (20k runs)": await _timed(lambda: conn.fetch(ASYNCPG["stats"], [0], 0.0)),
    }


async def reads_psycopg(conn: psycopg.AsyncConnection[Any], ids: list[str]) -> dict[str, float]:
    async def fetch(sql: str, *params: Any) -> list[Any]:
        async with conn.cursor() as cursor:
            await cursor.execute(sql, params)
            return await cursor.fetchall()

    return {
        "get 50 runs": await _timed(lambda: fetch(PSYCOPG["get_runs"], ids)),
        "list 50 runs": await _timed(lambda: fetch(PSYCOPG["list_runs"], [7])),
        "trends (20k runs)": await _timed(lambda: fetch(PSYCOPG["stats"], [0], 0.0)),
    }


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def prepare(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for script in MIGRATIONS:
            await conn.execute(script)
        now = time.time()
        await conn.executemany(ASYNCPG["job"], [_job(i, now) for i in range(JOBS)])
        stats_runs = [_run(f"stats-{i}", 0, now, "succeeded") for i in range(STATS_RUNS)]
        rng = random.Random(7)
        stats_runs = [(*r[:5], rng.uniform(1, 600), *r[6:]) for r in stats_runs]
        await conn.executemany(ASYNCPG["run"], stats_runs)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


Driver = tuple[str, Callable[[], Awaitable[Any]], Callable[..., Awaitable[None]], Any]


async def measure(url: str, rounds: int, commits: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}
    rng = random.Random(1)
    numbers: dict[str, int] = {}

    async def run(name: str, conn: Any, commit: Any, reads: Any) -> None:
        figures = results.setdefault(name, {})
        for shape in ("pushes", "batches"):
            count = commits if shape == "pushes" else max(commits // 10, 5)
            for _ in range(count):
                number = numbers.get(name + shape, 0)
                numbers[name + shape] = number + 1
                batch = Batch(shape, number, time.time(), rng)
                # Distinct run ids per driver: each writes its own rows.
                batch.runs = [(f"{name}:{r[0]}", *r[1:]) for r in batch.runs]
                batch.progress = [(*r[:-1], f"{name}:{r[-1]}") for r in batch.progress]
                batch.seen = [(f"{name}:{s[0]}", *s[1:]) for s in batch.seen]
                cpu, wall = time.process_time(), time.perf_counter()
                await commit(conn, batch)
                figures.setdefault(f"commit {shape} ms", []).append(
                    (time.perf_counter() - wall) * 1000
                )
                figures.setdefault(f"commit {shape} client CPU ms", []).append(
                    (time.process_time() - cpu) * 1000
                )
        ids = [f"stats-{i}" for i in rng.sample(range(STATS_RUNS), 50)]
        for _ in range(20):
            for what, seconds in (await reads(conn, ids)).items():
                figures.setdefault(f"{what} ms", []).append(seconds * 1000)

    a = await asyncpg.connect(url)
    p = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        for _ in range(rounds):
            await run("asyncpg", a, commit_asyncpg, reads_asyncpg)
            await run("asyncpg unnest", a, commit_asyncpg_unnest, reads_asyncpg)
            await run("psycopg", p, commit_psycopg, reads_psycopg)
            await run("psycopg pipeline", p, commit_psycopg_pipeline, reads_psycopg)
    finally:
        await a.close()
        await p.close()
    return results


def report(results: dict[str, dict[str, list[float]]]) -> None:
    names = list(results)
    measures = list(results[names[0]])
    print(f"{'median (p95), ms':<32}" + "".join(f"{n:>22}" for n in names))
    for what in measures:
        cells = []
        for name in names:
            values = sorted(results[name][what])
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            cells.append(f"{statistics.median(values):.2f} ({p95:.2f})")
        print(f"{what.removesuffix(' ms'):<32}" + "".join(f"{c:>22}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commits", type=int, default=200)
    args = parser.parse_args()
    with running_cluster() as cluster:
        url = cluster.database("bench")
        print(f"{cluster.version}; asyncpg {asyncpg.__version__}, psycopg {psycopg.__version__} "
              f"(libpq {psycopg.pq.version()}, {psycopg.pq.__impl__}); "
              f"Python {platform.python_version()}")  # fmt: skip
        asyncio.run(prepare(url))
        report(asyncio.run(measure(url, args.rounds, args.commits)))


if __name__ == "__main__":
    main()
