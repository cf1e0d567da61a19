"""What a progress event costs on a queued run against a plain one, in process, by part.

    python bench/queue_progress_cost.py [--events 100000] [--rounds 3]

10,000 runs, started (plain) or first queued in one of 100 queues (queued, so each run
carries a queue and an attempt), then progress events as bench/wrk/batchgate_progress.lua
sends them: each parsed, applied to the state and staged; every 100 events a batch is
taken (the run records), pickled as the SQLite store hands it to its writer process, and
written by that process's progress UPDATE into a real SQLite file. No server, no network,
one core: the parts bench/queues.py measures together, one by one, without its noise.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import tempfile
import time
from pathlib import Path

from batchgate.collector.core.events import PushLimits, decode_body, parse_events
from batchgate.collector.core.state import State, StateSettings
from batchgate.collector.storage.sqlite import writer as sqlite_writer
from batchgate.collector.storage.sqlite.store import _wire
from batchgate.collector.storage.store import job_record, run_record
from batchgate.collector.storage.writer import Writer

JOBS = 10_000
BATCH = 100
LIMITS = PushLimits()
PARTS = ("parse, apply, stage", "run records", "pickle", "SQLite update")


def populated(queued: bool, now: float) -> State:
    state = State(StateSettings())
    for i in range(JOBS):
        run = {"job": f"bench_{i}", "run_id": f"bench-{i}"}
        items = [{**run, "event": "queued", "queue": f"queue_{i % 100}"}] if queued else []
        for event in parse_events([*items, {**run, "event": "start"}], now, LIMITS):
            state.apply(event, now)
    return state


def database(state: State, directory: Path) -> object:
    conn = sqlite_writer.connect(directory / "bench.db", "process", 5000)
    conn.execute("BEGIN")
    conn.executemany(sqlite_writer._UPSERT_JOB, [job_record(j) for j in state.jobs.values()])
    runs = [run_record(run, state.jobs[run.job].id) for run in state.runs.values()]
    conn.executemany(sqlite_writer._UPSERT_RUN, runs)
    conn.execute("COMMIT")
    return conn


def bodies(events: int) -> list[bytes]:
    return [
        b'{"job":"bench_%d","event":"progress","run_id":"bench-%d","event_id":"e-%d",'
        b'"progress":{"done":%d,"total":1000000},"resources":{"cpu_percent":12.5,'
        b'"memory_bytes":104857600}}' % (n % JOBS, n % JOBS, n, n)
        for n in range(events)
    ]


async def measure(queued: bool, events: int) -> list[float]:
    """Microseconds per event of each of PARTS."""
    now = 1_000_000.0
    state = populated(queued, now)
    spent = [0.0] * len(PARTS)
    with tempfile.TemporaryDirectory() as directory:
        conn = database(state, Path(directory))
        writer = Writer(None, clock=time.time)  # type: ignore[arg-type]  # never commits
        data = bodies(events)
        clock = time.perf_counter
        for first in range(0, events, BATCH):
            began = clock()
            for body in data[first : first + BATCH]:
                now += 0.0001
                for event in parse_events(decode_body(body), now, LIMITS):
                    writer.stage(state.apply(event, now))
            staged = clock()
            batch, acknowledged = writer._take()
            acknowledged.cancel()
            taken = clock()
            wire = pickle.dumps(_wire(batch), protocol=pickle.HIGHEST_PROTOCOL)
            pickled = clock()
            conn.execute("BEGIN")  # type: ignore[attr-defined]
            conn.executemany(  # type: ignore[attr-defined]
                sqlite_writer._UPDATE_RUN_PROGRESS, pickle.loads(wire)["run_progress"]
            )
            conn.execute("COMMIT")  # type: ignore[attr-defined]
            written = clock()
            for index, (start, end) in enumerate(
                ((began, staged), (staged, taken), (taken, pickled), (pickled, written))
            ):
                spent[index] += end - start
    return [seconds / events * 1e6 for seconds in spent]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two")
    args = parser.parse_args()
    figures: dict[bool, list[list[float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for queued in (False, True):
            figures[queued].append(await measure(queued, args.events))
    print(f"µs per progress event, lowest-highest of {args.rounds} rounds:\n")
    print(f"| runs | {' | '.join(PARTS)} | total |")
    print(f"| --- |{' ---: |' * (len(PARTS) + 1)}")
    for queued, rounds in figures.items():
        columns = [*zip(*rounds, strict=True), [sum(r) for r in rounds]]
        cells = [f"{min(values):.2f}-{max(values):.2f}" for values in columns]
        print(f"| {'queued in 100 queues' if queued else 'started, no queue'} | "
              f"{' | '.join(cells)} |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
