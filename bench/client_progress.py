"""What monitoring costs a job: one `Job.progress()` call, and a real loop with and without it.

    python bench/client_progress.py [--iterations 100000] [--repeats 3]

1. The median cost of one `progress()` call on a started job whose sender thread is running
   (batches of 1,000 calls timed with perf_counter_ns; the median batch, per call), and the
   same loop with no call, to show what is the call and what is the loop.
2. A loop of `--iterations` iterations, each doing about 50 microseconds of real work
   (SHA-256 of a 4 KiB record, repeated to reach ~50 us) and calling `progress(done, total)`,
   against the same loop unmonitored: with a real batchgate collector up (started here), and
   with the collector unreachable (nothing listening: events go to the spool). The three
   variants are interleaved `--repeats` times and each one's median time is kept.

Target (issue 4): median call under 2 us; monitored loops at >= 0.97x the unmonitored speed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import batchgate, free_port, machine

from batchgate import Connection, Job, shutdown

RECORD = os.urandom(4096)


def hashes_for(work_us: float) -> int:
    """How many SHA-256 digests of a 4 KiB record take about `work_us` microseconds here."""
    rounds = 20_000
    started = time.perf_counter()
    for _ in range(rounds):
        hashlib.sha256(RECORD).digest()
    per_hash_us = (time.perf_counter() - started) / rounds * 1e6
    return max(1, round(work_us / per_hash_us))


def unmonitored_loop(iterations: int, hashes: int) -> float:
    sha256 = hashlib.sha256
    record = RECORD
    started = time.perf_counter()
    for _ in range(iterations):
        for _ in range(hashes):
            sha256(record).digest()
    return time.perf_counter() - started


def monitored_loop(iterations: int, hashes: int, url: str, spool: str) -> float:
    sha256 = hashlib.sha256
    record = RECORD
    connection = Connection.resolve(url, spool_dir=spool)
    started = time.perf_counter()
    with Job("bench_client_progress", connection=connection) as job:
        progress = job.progress
        for done in range(1, iterations + 1):
            for _ in range(hashes):
                sha256(record).digest()
            progress(done=done, total=iterations)
    elapsed = time.perf_counter() - started
    shutdown(5.0)  # deliver (or spool) what is left, outside the timed part, as at exit
    return elapsed


def progress_call_ns(url: str, spool: str) -> tuple[float, float]:
    """(median ns per progress() call, median ns per iteration of the same empty loop)."""
    batches, size = 2000, 1000
    job = Job("bench_progress_call", connection=Connection.resolve(url, spool_dir=spool)).start()
    progress = job.progress
    clock = time.perf_counter_ns
    calls, empty = [], []
    for batch in range(batches):
        base = batch * size
        started = clock()
        for done in range(base, base + size):
            progress(done=done, total=10**9)
        calls.append((clock() - started) / size)
        started = clock()
        for _ in range(base, base + size):
            pass
        empty.append((clock() - started) / size)
    job.success()
    shutdown(5.0)
    return statistics.median(calls), statistics.median(empty)


def best_of(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(repeats):
        for name, run in variants.items():
            elapsed = run()
            times[name].append(elapsed)
            print(f"  round {round_number + 1}: {name:<26} {elapsed:7.3f} s", flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work-us", type=float, default=50.0)
    args = parser.parse_args()

    hashes = hashes_for(args.work_us)
    unreachable = f"http://127.0.0.1:{free_port()}"
    print(f"machine: {machine()}")
    print(f"work per iteration: {hashes} x sha256(4 KiB)", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="batchgate-bench-spool-") as spool,
        batchgate() as server,
    ):
        call_ns, loop_ns = progress_call_ns(server.url, spool)
        per_iteration_us = unmonitored_loop(10_000, hashes) / 10_000 * 1e6
        print(f"work measured: {per_iteration_us:.1f} us per iteration", flush=True)
        times = best_of(
            {
                "unmonitored": lambda: unmonitored_loop(args.iterations, hashes),
                "monitored, collector up": lambda: monitored_loop(
                    args.iterations, hashes, server.url, spool
                ),
                "monitored, unreachable": lambda: monitored_loop(
                    args.iterations, hashes, unreachable, spool
                ),
            },
            args.repeats,
        )
    base = times["unmonitored"]
    print()
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    print(
        f"| one `progress()` call, median | {call_ns / 1000:.2f} us "
        f"(the bare loop around it: {loop_ns / 1000:.2f} us) | < 2 us |"
    )
    print(
        f"| {args.iterations:,} iterations of ~{per_iteration_us:.0f} us work, unmonitored "
        f"| {base:.2f} s | |"
    )
    for name in ("monitored, collector up", "monitored, unreachable"):
        print(
            f"| same loop + `progress()` each iteration, {name.split(', ')[1]} "
            f"| {times[name]:.2f} s = {base / times[name]:.3f}x | >= 0.97x |"
        )


if __name__ == "__main__":
    main()
