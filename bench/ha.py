"""High availability on PostgreSQL: push rates against SQLite, takeover after kill -9, restore.

    python -m bench.ha [--seconds 10] [--kills 20] [--lease 5] [--jobs 10000] [--runs 100]
                       [--only pushes|takeover|restore]

Starts its own PostgreSQL cluster (Debian's `postgresql`, as the tests do) with the
server's default settings: fsync and synchronous_commit on, so that a push is answered
only once its commit is on the database's disk, as SQLite's default durability does.

- pushes: batchgate on SQLite and on PostgreSQL, each with its default durability and
  with the other's (SQLite `--durability fsync`; PostgreSQL `synchronous_commit = off`),
  each holding 10,000 jobs with a running run, under wrk at 16 connections: one progress
  event per push, 100 per push, and Pushgateway text pushes over 1,000 groups (the loads
  of bench/push.py).
- takeover: two nodes on one database under a steady load of pushes (two clients given
  both URLs, as the SDK is); `kill -9` of the leader; the seconds until the standby's
  /-/ready is 200 (it serves every route); the acknowledged pushes the new leader does not
  have (must be 0). Then a new standby is started and the next leader killed, `--kills`
  times.
- restore: a history of `--jobs` x `--runs` runs filled through POST /push (as
  bench/history_scale.py fills it), then the server stopped and started again on it: the
  seconds from the process's start to /-/ready, and the restore's own steps from its log.

Output: markdown tables, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO, Load, batchgate, free_port, machine, wait_http, wrk
from tests.collector.ha.nodes import HaNode, Pushes, wait_until
from tests.postgres import Cluster, running_cluster

sys.path.insert(0, str(Path(__file__).parent))  # the scripts import each other by name
from history_scale import fill
from push import GROUPS, JOBS, populate_groups, populate_jobs

RESTORED = re.compile(r"restored .* in ([\d.]+) s \((.*)\)")


STORES = ("SQLite", "SQLite, durability fsync", "PostgreSQL", "PostgreSQL, synchronous_commit off")
"""The push loads' stores, in pairs that promise the same: a push answered survives the
server's process (SQLite's default; PostgreSQL without waiting for its disk), or survives
the machine (SQLite with fsync; PostgreSQL's default)."""


def push_rates(postgres: Cluster, seconds: int) -> dict[str, dict[str, Load]]:
    """Each store's loads."""
    unsynced = postgres.database()
    name = unsynced.rsplit("/", 1)[1]
    postgres.sql(f"ALTER DATABASE {name} SET synchronous_commit = off")
    flags: dict[str, tuple[str, ...]] = {
        "SQLite": (),
        "SQLite, durability fsync": ("--durability", "fsync"),
        "PostgreSQL": ("--store-url", postgres.database()),
        "PostgreSQL, synchronous_commit off": ("--store-url", unsynced),
    }
    rates: dict[str, dict[str, Load]] = {}
    for store in STORES:
        with batchgate(*flags[store]) as server:
            populate_jobs(server.url)
            populate_groups(server.url)
            jobs = {"JOBS": str(JOBS)}
            rates[store] = {
                "1 progress event per push": wrk(
                    server.url, "batchgate_progress", seconds, env=jobs
                ),
                "100 progress events per push": wrk(
                    server.url, "batchgate_batch", seconds, env={**jobs, "BATCH": "100"}
                ),
                "Pushgateway text push (8 families, 1,000 groups)": wrk(
                    server.url, "pushgateway_text", seconds, env={"GROUPS": str(GROUPS)}
                ),
            }
    return rates


def takeover(leader: HaNode, standby: HaNode) -> tuple[float, int, int]:
    """Kill the leader under a load of pushes: (seconds from kill -9 to the standby
    serving, pushes acknowledged, of them missing on the standby)."""
    wait_until(lambda: standby.role() == "standby", 60, "a standby", standby)
    with Pushes([leader.url, standby.url]) as pushes:
        wait_until(lambda: pushes.count() >= 20, 60, "pushes", leader)
        killed_at = time.monotonic()
        leader.kill()
        wait_until(lambda: standby.status("/-/ready", 0.5) == 200, 120, "serving", standby)
        took = time.monotonic() - killed_at
        before = pushes.count()
        wait_until(lambda: pushes.count() >= before + 20, 60, "pushes", standby)
    return took, pushes.count(), len(pushes.missing_from(standby.url))


def takeovers(postgres: Cluster, kills: int, lease: float) -> list[tuple[float, int, int]]:
    """`takeover` `kills` times on one database, a new standby started after each."""
    url = postgres.database()
    results = []
    with tempfile.TemporaryDirectory(prefix="batchgate-bench-ha-") as directory:
        root = Path(directory)
        names = iter(f"node{i}" for i in range(kills + 2))
        leader = HaNode(root, next(names), url, lease).start()
        wait_until(lambda: leader.status("/-/ready") == 200, 60, "the first leader", leader)
        standby = HaNode(root, next(names), url, lease).start()
        try:
            for kill in range(1, kills + 1):
                took, acknowledged, missing = takeover(leader, standby)
                results.append((took, acknowledged, missing))
                print(f"kill {kill}: serving again after {took:.2f} s, "
                      f"{missing} of {acknowledged} missing", file=sys.stderr)  # fmt: skip
                leader, standby = standby, HaNode(root, next(names), url, lease).start()
        finally:
            for node in (leader, standby):
                node.stop()
    return results


def start_server(
    flags: list[str], data: Path, port: int, log: Path
) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "batchgate", "serve", "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(data), *flags],
            cwd=REPO, stdout=output, stderr=output,
        )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=900)
    return process, time.perf_counter() - started


def restores(postgres: Cluster, jobs: int, runs: int) -> dict[str, tuple[float, float, str, float]]:
    """Per store: (seconds to /-/ready at the restart, the restore's own seconds, its
    steps, the fill's events/s)."""
    results = {}
    for store, flags in (("SQLite", []), ("PostgreSQL", ["--store-url", postgres.database()])):
        with tempfile.TemporaryDirectory(prefix="batchgate-bench-restore-") as directory:
            data, log, port = Path(directory) / "data", Path(directory) / "server.log", free_port()
            process, _ = start_server(flags, data, port, log)
            filled = fill(port, jobs, runs, connections=2)
            if filled.errors:
                sys.exit(f"{store}: the fill failed: {filled.errors[:3]}")
            process.send_signal(signal.SIGTERM)
            process.wait(300)
            log.write_text("")
            process, ready = start_server(flags, data, port, log)
            process.send_signal(signal.SIGTERM)
            process.wait(300)
            match = RESTORED.search(log.read_text())
            own, steps = (float(match.group(1)), match.group(2)) if match else (float("nan"), "")
            results[store] = (ready, own, steps, filled.events / filled.seconds)
            print(f"{store}: ready {ready:.2f} s after the restart", file=sys.stderr)
    return results


def report_pushes(rates: dict[str, dict[str, Load]], seconds: int) -> None:
    print(f"\n### Pushes, PostgreSQL against SQLite (wrk -t1 -c16 -d{seconds}s)\n")
    print("| load | " + " | ".join(f"{store} req/s" for store in STORES) + " | errors |")
    print("| --- |" + " ---: |" * (len(STORES) + 1))
    for load in rates["SQLite"]:
        row = [rates[store][load] for store in STORES]
        errors = sum(result.errors for result in row)
        print(f"| {load} | " + " | ".join(f"{r.requests_per_second:,.0f} (p99 {r.p99_ms:.0f} ms)"
                                         for r in row) + f" | {errors} |")  # fmt: skip
    print("\n| load | PostgreSQL / SQLite, as each is by default | the same, both fsync "
          "| the same, neither waiting for the disk |")  # fmt: skip
    print("| --- | ---: | ---: | ---: |")
    for load in rates["SQLite"]:
        rate = {store: rates[store][load].requests_per_second for store in STORES}
        print(f"| {load} | {rate['PostgreSQL'] / rate['SQLite']:.2f}x | "
              f"{rate['PostgreSQL'] / rate['SQLite, durability fsync']:.2f}x | "
              f"{rate['PostgreSQL, synchronous_commit off'] / rate['SQLite']:.2f}x |")  # fmt: skip


def report_takeovers(results: list[tuple[float, int, int]], lease: float) -> None:
    times = sorted(took for took, _, _ in results)
    print(f"\n### Takeover after kill -9 of the leader ({len(results)} kills, lease {lease:g} s)\n")
    print("| median s | fastest s | slowest s | acknowledged pushes | lost |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(f"| {statistics.median(times):.2f} | {times[0]:.2f} | {times[-1]:.2f} | "
          f"{sum(n for _, n, _ in results):,} | {sum(m for _, _, m in results)} |")  # fmt: skip


def report_restores(
    results: dict[str, tuple[float, float, str, float]], jobs: int, runs: int
) -> None:
    print(f"\n### Restart on a history of {jobs:,} jobs x {runs:,} runs\n")
    print("| store | fill events/s | start to /-/ready s | restore s | its steps |")
    print("| --- | ---: | ---: | ---: | --- |")
    for store, (ready, own, steps, rate) in results.items():
        print(f"| {store} | {rate:,.0f} | {ready:.2f} | {own:.2f} | {steps} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each push load")
    parser.add_argument("--kills", type=int, default=20, help="leaders to kill")
    parser.add_argument("--lease", type=float, default=5.0, help="ha.lease in seconds")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the restored history")
    parser.add_argument("--runs", type=int, default=100, help="runs per job in it")
    parser.add_argument("--only", choices=("pushes", "takeover", "restore"))
    args = parser.parse_args()

    with running_cluster() as postgres:
        print(f"Machine: {machine()}; {postgres.version}, default settings (fsync on, "
              "synchronous_commit on), on loopback.")  # fmt: skip
        if args.only in (None, "pushes"):
            report_pushes(push_rates(postgres, args.seconds), args.seconds)
        if args.only in (None, "takeover"):
            report_takeovers(takeovers(postgres, args.kills, args.lease), args.lease)
        if args.only in (None, "restore"):
            report_restores(restores(postgres, args.jobs, args.runs), args.jobs, args.runs)


if __name__ == "__main__":
    main()
