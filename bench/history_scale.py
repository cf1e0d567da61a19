"""History at scale: fill J jobs x R runs, then measure the disk, memory, queries and restart.

    python bench/history_scale.py [--jobs 10000] [--runs 100] [--connections 2]
                                  [--poll SECONDS] [--pythonpath DIR] [--keep DIR]
                                  [--run-ids job|random|time]

Fills a fresh data directory through POST /push: runs backdated over 25 days, in time
order, each a `start` and a `success` with progress, in batches of 1,000 events sent
over `--connections` keep-alive connections on loopback. While it fills, every file in the
data directory is sampled every 50 ms (the write-ahead log can grow and shrink between
two commits), and the CPU time of the server and its writer process is taken (per 1,000
events: less disturbed than events/s on a machine others use). Then: resident memory of the
server and its writer process, GET /summary, GET / (the overview page), GET /metrics, a job,
its runs and its trends; then `kill -9` of
the server and its writer process, a restart on the same directory (time to /-/ready),
resident memory again, and a clean stop (the files' sizes after it).

`--poll 1` GETs /summary and / once a second during the fill, as an open dashboard would
(their readers hold snapshots of the database while commits go on). `--pythonpath DIR`
puts DIR first on the server's PYTHONPATH, to measure another checkout (a tree holding a
`batchgate` package of links, as `.ci/dev-tree` makes one). `--keep DIR` copies the
data directory there at the end (after the clean stop), to time restarts on it. Output:
markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    REPO,
    Server,
    free_port,
    machine,
    process_and_children,
    timed_get,
    wait_http,
)

from batchgate.client.ids import time_ordered_id

DAY = 86400.0
SPAN = 25 * DAY
EVENTS_PER_BATCH = 1000
RUNS_PER_BATCH = EVENTS_PER_BATCH // 2
SAMPLE_EVERY = 0.05
MiB = 2**20


@dataclass
class Fill:
    seconds: float = 0.0
    events: int = 0
    finished: list[float] = field(default_factory=list)
    """When each batch was acknowledged, seconds from the start of the fill."""
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0
    """CPU time of the server and its writer process during the fill."""

    def rate(self, first: float, last: float) -> float:
        """Events/s over the batches acknowledged between these shares of the fill."""
        done = sorted(self.finished)
        if not done:
            return 0.0
        low, high = int(first * len(done)), max(int(last * len(done)) - 1, 0)
        began = done[low - 1] if low > 0 else 0.0
        return (high - low + 1) * EVENTS_PER_BATCH / max(done[high] - began, 1e-9)


class FileSampler(threading.Thread):
    """The largest size of every file in a directory, sampled until stopped."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.largest: dict[str, int] = {}
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_EVERY):
            self.sample()

    def sample(self) -> None:
        self.samples += 1
        for name, size in file_sizes(self.directory).items():
            self.largest[name] = max(self.largest.get(name, 0), size)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def file_sizes(directory: Path) -> dict[str, int]:
    sizes = {}
    for path in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):  # removed between listing and stat
            sizes[path.name] = path.stat().st_size
    return sizes


def start_server(data: Path, port: int, pythonpath: str | None, log: Path) -> tuple[Server, float]:
    """A server on `data`, and the seconds from starting its process to /-/ready."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "batchgate", "serve", "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(data), "--log-level", "warning"],
            cwd=REPO, stdout=output, stderr=output, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", timeout=600)
    except RuntimeError:
        process.kill()
        raise
    return Server("batchgate", url, process), time.perf_counter() - started


def run_events(
    job: int, run: int, jobs: int, runs: int, now: float, ids: str = "job"
) -> list[dict[str, object]]:
    slot = SPAN / runs
    started = now - SPAN + run * slot + slot * job / jobs
    duration = 30 + (job * 31 + run * 17) % 900
    finished = min(started + duration, now - 1)
    name = f"hist_{job:05d}"
    if ids == "random":
        run_id = uuid.uuid4().hex
    elif ids == "time":
        run_id = time_ordered_id(started)
    else:
        run_id = f"{name}-{run}"
    done = 1000 + (job + run) % 500
    return [
        {"job": name, "event": "start", "run_id": run_id, "timestamp": started},
        {
            "job": name,
            "event": "success",
            "run_id": run_id,
            "timestamp": finished,
            "progress": {"done": done, "total": done},
        },
    ]


def batch_events(
    number: int, jobs: int, runs: int, now: float, ids: str = "job"
) -> list[dict[str, object]]:
    """Batch `number`: the next RUNS_PER_BATCH runs in time order (every job's run r, then r+1)."""
    events: list[dict[str, object]] = []
    for index in range(number * RUNS_PER_BATCH, min((number + 1) * RUNS_PER_BATCH, jobs * runs)):
        run, job = divmod(index, jobs)
        events.extend(run_events(job, run, jobs, runs, now, ids))
    return events


def fill(port: int, jobs: int, runs: int, connections: int, ids: str = "job") -> Fill:
    batches: queue.SimpleQueue[int] = queue.SimpleQueue()
    count = -(-jobs * runs // RUNS_PER_BATCH)
    for number in range(count):
        batches.put(number)
    result = Fill()
    now = time.time()
    lock = threading.Lock()
    began = time.perf_counter()

    def send() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                try:
                    number = batches.get_nowait()
                except queue.Empty:
                    return
                events = batch_events(number, jobs, runs, now, ids)
                body = json.dumps(events).encode()
                connection.request("POST", "/push", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                with lock:
                    if response.status != 200:
                        result.errors.append(f"{response.status} {answer[:200]!r}")
                        return
                    result.finished.append(time.perf_counter() - began)
                    result.events += len(events)
        finally:
            connection.close()

    senders = [threading.Thread(target=send) for _ in range(connections)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    result.seconds = time.perf_counter() - began
    return result


class DashboardPoller(threading.Thread):
    """GET /summary and / every `every` seconds, as an open dashboard."""

    def __init__(self, url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.requests = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            for path in ("/summary", "/"):
                timed_get(f"{self.url}{path}", repeats=1)
                self.requests += 1

    def stop(self) -> None:
        self._halt.set()
        self.join()


def kill_hard(server: Server) -> None:
    """`kill -9` the server and its writer process, as a crash of the machine's service."""
    pids = process_and_children(server.process.pid)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    server.process.wait()
    deadline = time.monotonic() + 30
    for pid in pids[1:]:
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            if time.monotonic() > deadline:
                sys.exit(f"process {pid} still running 30 s after kill -9")
            time.sleep(0.01)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]
    except (FileNotFoundError, IndexError):
        return "zombie"


def mib(size: float) -> str:
    return f"{size / MiB:,.1f} MiB"


def ms(timing: tuple[float, float]) -> str:
    median, worst = timing
    return f"{median:.1f} ms (worst {worst:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100, help="runs per job")
    parser.add_argument("--connections", type=int, default=2, help="senders during the fill")
    parser.add_argument("--poll", type=float, default=0.0, help="seconds between dashboard polls")
    parser.add_argument("--repeats", type=int, default=20, help="GETs per query timed")
    parser.add_argument("--pythonpath", help="put DIR first on the server's PYTHONPATH")
    parser.add_argument("--keep", metavar="DIR", help="copy the data directory to DIR at the end")
    parser.add_argument(
        "--run-ids", choices=("job", "random", "time"), default="job",
        help="run ids: the job's name and the run's number (default), uuid4 as clients "
        "chose them before 2026-12-08, or time-ordered (UUIDv7, as the SDK makes them)",
    )  # fmt: skip
    args = parser.parse_args()
    jobs, runs = args.jobs, args.runs
    if jobs < 1 or runs < 1 or args.connections < 1:
        sys.exit("--jobs, --runs and --connections must be at least 1")

    with tempfile.TemporaryDirectory(prefix="batchgate-history-") as scratch:
        data, log = Path(scratch) / "data", Path(scratch) / "server.log"
        port = free_port()
        server, _ = start_server(data, port, args.pythonpath, log)
        try:
            sampler = FileSampler(data)
            sampler.start()
            poller = DashboardPoller(server.url, args.poll) if args.poll > 0 else None
            if poller is not None:
                poller.start()
            cpu_before = server.cpu_seconds()
            filled = fill(port, jobs, runs, args.connections, args.run_ids)
            filled.cpu_seconds = server.cpu_seconds() - cpu_before
            if poller is not None:
                poller.stop()
            sampler.stop()
            if filled.errors:
                sys.exit(f"the fill failed: {filled.errors[0]}")
            after_fill = file_sizes(data)
            memory_filled = server.rss_bytes()
            job = f"hist_{jobs // 2:05d}"
            repeats = args.repeats
            queries = [
                ("GET /summary", timed_get(f"{server.url}/summary", repeats)),
                ("GET / (overview page)", timed_get(f"{server.url}/", repeats)),
                ("GET /metrics", timed_get(f"{server.url}/metrics", max(repeats // 4, 1))),
                ("GET /jobs", timed_get(f"{server.url}/jobs", repeats)),
                (f"GET /jobs/{job}", timed_get(f"{server.url}/jobs/{job}", repeats)),
                (f"GET /jobs/{job}/runs", timed_get(f"{server.url}/jobs/{job}/runs", repeats)),
                (
                    f"GET /jobs/{job}/trends?period=30d",
                    timed_get(f"{server.url}/jobs/{job}/trends?period=30d", repeats),
                ),
            ]
            with_metrics = response_size(f"{server.url}/metrics")
            at_kill = file_sizes(data)
            kill_hard(server)
            server, ready_after_kill = start_server(data, port, args.pythonpath, log)
            memory_restarted = server.rss_bytes()
        finally:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
                server.process.wait(120)
        stopped = file_sizes(data)
        if args.keep:
            shutil.copytree(data, args.keep, dirs_exist_ok=True)
        report(args, filled, sampler, after_fill, at_kill, stopped, memory_filled,
               memory_restarted, queries, with_metrics, ready_after_kill)  # fmt: skip


def response_size(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as response:
        return len(response.read())


def report(
    args: argparse.Namespace,
    filled: Fill,
    sampler: FileSampler,
    after_fill: dict[str, int],
    at_kill: dict[str, int],
    stopped: dict[str, int],
    memory_filled: int,
    memory_restarted: int,
    queries: list[tuple[str, tuple[float, float]]],
    metrics_bytes: int,
    ready_after_kill: float,
) -> None:
    total_runs = args.jobs * args.runs
    database = "batchgate.db"
    wal = f"{database}-wal"
    first, last = filled.rate(0.0, 0.1), filled.rate(0.9, 1.0)
    print(f"Machine: {machine()}.")
    print(
        f"`python bench/history_scale.py --jobs {args.jobs} --runs {args.runs} "
        f"--connections {args.connections}"
        + (f" --poll {args.poll:g}" if args.poll else "")
        + (f" --run-ids {args.run_ids}" if args.run_ids != "job" else "")
        + "`: "
        f"{total_runs:,} runs, {filled.events:,} events in {len(filled.finished):,} pushes.\n"
    )
    print(f"| measure | {total_runs:,} runs |")
    print("| --- | ---: |")
    rows = [
        ("database file after a clean stop", mib(stopped.get(database, 0))),
        ("bytes on disk per run (database after a clean stop)",
         f"{stopped.get(database, 0) / total_runs:,.0f}"),
        (f"**write-ahead log during the fill** (largest of {sampler.samples:,} samples)",
         f"**{mib(sampler.largest.get(wal, 0))}**"),
        ("write-ahead log at the end of the fill", mib(after_fill.get(wal, 0))),
        ("write-ahead log at the `kill -9`", mib(at_kill.get(wal, 0))),
        ("batched events/s while filling (all)", f"{filled.events / filled.seconds:,.0f}"),
        ("batched events/s, first 10% of the pushes", f"{first:,.0f}"),
        ("batched events/s, last 10% of the pushes", f"{last:,.0f} ({last / first:.2f}x)"),
        ("CPU of the server and writer per 1,000 events while filling",
         f"{filled.cpu_seconds / filled.events * 1000 * 1000:,.0f} ms"),
        ("resident memory after the fill (server and writer)", mib(memory_filled)),
        ("resident memory after the restart", mib(memory_restarted)),
        *((f"`{name}`", ms(timing)) for name, timing in queries),
        ("`GET /metrics` size", mib(metrics_bytes)),
        ("**ready after `kill -9`** (process start to /-/ready)", f"**{ready_after_kill:.2f} s**"),
    ]  # fmt: skip
    for name, value in rows:
        print(f"| {name} | {value} |")
    print("\n| file | largest during the fill | after the fill | after a clean stop |")
    print("| --- | ---: | ---: | ---: |")
    for name in sorted(set(sampler.largest) | set(stopped)):
        print(
            f"| {name} | {mib(sampler.largest.get(name, 0))} | "
            f"{mib(after_fill.get(name, 0))} | {mib(stopped.get(name, 0))} |"
        )


if __name__ == "__main__":
    main()
