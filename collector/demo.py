"""`batchgate demo`: a batchgate full of jobs in a minute, to look at the dashboards.

With no `--url`, it starts a server on a temporary data directory and prints its URL.
It then pushes a week of history (for the jobs the server does not know yet), and runs
simulated jobs through the client SDK, as real jobs would:

- `etl_orders{region=eu|us}` (ETL: records done of a total, a rows/s metric),
- `analytics_daily` (percent progress; fails now and then), `report_weekly` (pages),
- `backup_db{host=db1|db2}` (db2's disk is full: it fails every time: JobFailed),
- `compute_pi` (iterations; its current run takes far longer than usual),
- `import_customers` (stopped progressing 16 minutes ago: stuck, JobStuck),
- `cleanup_tmp` (its process is killed with SIGKILL: the run is lost, JobLost),
- `sync_invoices` (ran every 15 minutes until 2 hours ago: it missed its schedule),
- Pushgateway groups pushed by prometheus_client (`db_dump` on two hosts, every 15 s, and
  `nightly_export` pushed once).

The server the demo starts gets `demo_rules.yaml`: the default rules, and two that the
demo trips (compute_pi running over 2 minutes, sync_invoices without success for 30).

The stuck run's beginning is pushed with past timestamps, so the default 15-minute rule
fires at once. Only this module's `main` touches the network, processes and signals.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import client
from client import Connection, Job

HISTORY_DAYS = 7
TICK = 0.25
"""Seconds between two progress updates of a simulated job."""
RULES_FILE = Path(__file__).with_name("demo_rules.yaml")


Work = Callable[[Job, "Simulated", random.Random, threading.Event], None]


@dataclass(frozen=True, slots=True)
class Simulated:
    """One simulated job: how its history looked and how its live runs go."""

    name: str
    what: str
    work: Work
    labels: Mapping[str, str] = field(default_factory=dict)
    every: float = 60.0
    """Live runs: seconds from one start to the next (0: one run, for the whole demo)."""
    duration: float = 20.0
    """Typical seconds of a live run."""
    history_every: float = 3600.0
    history_duration: float | None = None
    """Typical seconds of a run in the history (default: as a live run)."""
    history_until: float = 0.0
    """The history stops this many seconds before now (a job that missed its schedule)."""
    fail_rate: float = 0.0
    failure: str = ""
    live: bool = True
    start_after: float = 0.0


# -- what the simulated jobs do ----------------------------------------------------------


def _ticks(spec: Simulated, rng: random.Random) -> int:
    return max(4, int(spec.duration * rng.uniform(0.8, 1.25) / TICK))


def _sleep_or_cancel(job: Job, stop: threading.Event, seconds: float = TICK) -> bool:
    """Wait one tick; True (and the run cancelled) if the demo is stopping."""
    if stop.wait(seconds):
        job.cancel("the demo was stopped")
        return True
    return False


def records(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """ETL: load records, count the bad ones, report rows per second."""
    total = rng.randrange(15_000, 25_000)
    ticks = _ticks(spec, rng)
    fail_at = rng.randrange(ticks // 2, ticks) if rng.random() < spec.fail_rate else None
    errors = 0
    started = time.monotonic()
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        if step == fail_at:
            job.fail(spec.failure, exit_code=1)
            return
        errors += rng.random() < 0.1
        done = total * step // ticks
        job.progress(done=done, total=total, errors=errors)
        job.metric("rows_per_second", round(done / max(0.001, time.monotonic() - started), 1))


def percent(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """Analytics: a few stages, reported as a percentage."""
    ticks = _ticks(spec, rng)
    fail_at = rng.randrange(ticks // 3, ticks) if rng.random() < spec.fail_rate else None
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        if step == fail_at:
            job.fail(spec.failure, exit_code=1)
            return
        job.progress(percent=round(100.0 * step / ticks, 1))


def backup(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """A backup copying files; a full disk fails it with rsync's exit code."""
    files = rng.randrange(800, 1200)
    ticks = _ticks(spec, rng)
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        done = files * step // ticks
        job.progress(done=done, total=files)
        job.metric("bytes_copied", done * 3_500_000)
        if spec.fail_rate and step > ticks * 0.6 and rng.random() < spec.fail_rate:
            job.fail(spec.failure, exit_code=11)
            return


def iterations(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """A computation converging over many iterations (estimating pi)."""
    ticks = _ticks(spec, rng)
    inside = 0
    samples = 0
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        for _ in range(200):
            x, y = rng.random(), rng.random()
            inside += x * x + y * y <= 1.0
        samples += 200
        job.progress(percent=round(100.0 * step / ticks, 2))
        job.metric("iterations", samples)
        job.metric("pi_error", abs(4 * inside / samples - 3.141592653589793))


def pages(job: Job, spec: Simulated, rng: random.Random, stop: threading.Event) -> None:
    """Report generation: pages rendered of a total."""
    total = rng.randrange(40, 90)
    ticks = _ticks(spec, rng)
    for step in range(1, ticks + 1):
        if _sleep_or_cancel(job, stop):
            return
        job.progress(done=total * step // ticks, total=total)


CATALOG = (
    Simulated("etl_orders", "ETL, records", records, {"region": "eu"}, every=40, duration=24,
              fail_rate=0.06, failure="ValueError: bad record at offset 18231: date '2024-02-30'"),
    Simulated("etl_orders", "ETL, records", records, {"region": "us"}, every=50, duration=30,
              fail_rate=0.04, failure="ConnectionError: source database closed the connection",
              start_after=6),
    Simulated("analytics_daily", "analytics", percent, every=60, duration=15,
              history_every=4 * 3600, fail_rate=0.25, failure="KeyError: 'revenue'",
              start_after=3),
    Simulated("backup_db", "backup", backup, {"host": "db1"}, every=90, duration=12,
              history_every=86400, start_after=1),
    Simulated("backup_db", "backup", backup, {"host": "db2"}, every=90, duration=6,
              history_every=86400, fail_rate=1.0, start_after=2,
              failure="rsync: write failed on /backup/db2: No space left on device (28)"),
    Simulated("report_weekly", "report generation", pages, every=75, duration=10,
              history_every=86400, start_after=8),
    Simulated("compute_pi", "computation, iterations", iterations, every=0, duration=1800,
              history_every=2 * 3600, history_duration=30),
    Simulated("sync_invoices", "missed its schedule", percent, history_every=900,
              history_duration=20, history_until=2 * 3600, live=False),
    Simulated("cleanup_tmp", "killed, lost", records, history_every=6 * 3600,
              history_duration=40, live=False),
    Simulated("import_customers", "stuck", records, history_every=86400,
              history_duration=600, live=False),
)  # fmt: skip


# -- history --------------------------------------------------------------------------------


def history_events(spec: Simulated, now: float, rng: random.Random) -> list[dict[str, Any]]:
    """Finished runs of the past week, one event each, with past timestamps."""
    typical = spec.history_duration or spec.duration
    start = now - HISTORY_DAYS * 86400
    end = now - spec.history_until
    events = []
    moment = start + rng.uniform(0, spec.history_every)
    while moment < end - typical * 2:
        age = (now - moment) / (HISTORY_DAYS * 86400)
        # Jobs slow down as data grows: durations creep up over the week.
        seconds = typical * rng.uniform(0.8, 1.25) * (1.3 - 0.3 * age)
        failed = rng.random() < min(spec.fail_rate, 0.3)
        event: dict[str, Any] = {
            "job": spec.name,
            "labels": dict(spec.labels),
            "event": "fail" if failed else "success",
            "run_id": uuid.uuid4().hex,
            "timestamp": round(moment + seconds, 3),
            "duration_seconds": round(seconds, 3),
        }
        if spec.work is records:
            total = rng.randrange(15_000, 25_000)
            done = total if not failed else total * rng.randrange(40, 95) // 100
            event["progress"] = {"done": done, "total": total, "errors": rng.randrange(0, 5)}
        if failed:
            event["message"] = spec.failure or "failed"
            event["exit_code"] = 1
        events.append(event)
        moment += spec.history_every * rng.uniform(0.97, 1.03)
    return events


def stuck_beginning(now: float, run_id: str) -> list[dict[str, Any]]:
    """A run that started 20 minutes ago, has not progressed for 16, and is still alive."""
    base = {"job": "import_customers", "run_id": run_id}
    return [
        {**base, "event": "start", "timestamp": now - 1200},
        {**base, "event": "progress", "timestamp": now - 1080,
         "progress": {"done": 1200, "total": 10_000}},
        {**base, "event": "progress", "timestamp": now - 960,
         "progress": {"done": 3120, "total": 10_000, "errors": 3},
         "message": "waiting for a lock on table customers"},
        # Alive all along (heartbeats), so it reads stuck, never lost.
        {**base, "event": "progress", "timestamp": now,
         "resources": {"cpu_percent": 0.5, "memory_bytes": 180_000_000}},
    ]  # fmt: skip


# -- talking to the server ------------------------------------------------------------------


def _post(url: str, events: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{url}/push", json.dumps(events).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def _known(url: str, spec: Simulated) -> bool:
    query = urllib.parse.urlencode([("label", f"{k}={v}") for k, v in spec.labels.items()])
    address = f"{url}/jobs/{urllib.parse.quote(spec.name, safe='')}?{query}"
    try:
        with urllib.request.urlopen(address, timeout=10) as answer:
            label_sets = json.loads(answer.read())["label_sets"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise
    return any(entry["labels"] == dict(spec.labels) for entry in label_sets)


def backfill(url: str, now: float, rng: random.Random) -> int:
    """Push a week of history for the simulated jobs the server does not know; runs pushed."""
    pushed = 0
    for spec in CATALOG:
        if _known(url, spec):
            continue
        events = history_events(spec, now, rng)
        for first in range(0, len(events), 500):
            _post(url, events[first : first + 500])
        pushed += len(events)
    return pushed


# -- live runs --------------------------------------------------------------------------------


def run_repeatedly(
    spec: Simulated, connection: Connection, rng: random.Random, stop: threading.Event
) -> None:
    """Run the simulated job through the SDK, again and again, until the demo stops."""
    if stop.wait(spec.start_after):
        return
    while not stop.is_set():
        began = time.monotonic()
        job = Job(spec.name, spec.labels, connection=connection, heartbeat=5, progress_interval=0.5)
        with job:  # success at the end, unless the work failed or cancelled the run
            spec.work(job, spec, rng, stop)
        if spec.every <= 0 or stop.wait(max(1.0, spec.every - (time.monotonic() - began))):
            return


def hold_stuck_run(connection: Connection, stop: threading.Event) -> None:
    """Keep the stuck run alive with heartbeats (it is not lost), never progressing."""
    run_id = uuid.uuid4().hex
    _post(connection.url, stuck_beginning(time.time(), run_id))
    job = Job("import_customers", run_id=run_id, connection=connection, heartbeat=5).start()
    stop.wait()
    job.cancel("the demo was stopped")


KILLED_JOB = """
import sys, time
from client import Connection, Job
job = Job("cleanup_tmp", heartbeat=1, lost_after=6, progress_interval=0.2,
          connection=Connection.resolve(sys.argv[1], spool_dir="off")).start()
for step in range(1, 100000):
    job.progress(done=step * 37, total=100000)
    time.sleep(0.2)
"""


def kill_a_run(connection: Connection, stop: threading.Event, every: float = 600.0) -> None:
    """Start a job in a process of its own and kill it with SIGKILL: its run gets lost."""
    package_root = str(Path(client.__file__).resolve().parent.parent)
    environment = {**os.environ, "PYTHONPATH": package_root}
    while not stop.wait(1.0):
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_JOB, connection.url], env=environment
        )
        stop.wait(3.0)
        process.kill()
        process.wait()
        if stop.wait(every):
            return


def push_groups(url: str, stop: threading.Event, every: float = 15.0) -> None:
    """Pushgateway clients, as prometheus_client's push_to_gateway pushes: a database dump
    on two hosts, every few seconds, and an export pushed once from a host since retired."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    def push(job: str, instance: str, seconds: float, size: float) -> None:
        registry = CollectorRegistry()
        Gauge(f"{job}_last_success_timestamp_seconds", "When the last run succeeded.",
              registry=registry).set_to_current_time()  # fmt: skip
        Gauge(f"{job}_duration_seconds", "How long the last run took.", registry=registry).set(
            seconds
        )
        Gauge(f"{job}_size_bytes", "Bytes written by the last run.", registry=registry).set(size)
        with contextlib.suppress(OSError):  # the server may be going away with the demo
            push_to_gateway(url, job=job, registry=registry, grouping_key={"instance": instance},
                            timeout=5)  # fmt: skip

    push("nightly_export", "retired-host", 1800.0, 3.2e9)
    step = 0
    while not stop.is_set():
        step += 1
        for instance, base in (("db1", 4.1e9), ("db2", 7.9e9)):
            push("db_dump", instance, 300.0 + 7 * (step % 5), base + 1e6 * step)
        if stop.wait(every):
            return


# -- the command ------------------------------------------------------------------------------


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout:.0f}s:\n{log.read_text()}")


@contextlib.contextmanager
def own_server(listen: str | None) -> Iterator[str]:
    """A batchgate server on a temporary data directory, stopped and removed at the end."""
    data = Path(tempfile.mkdtemp(prefix="batchgate-demo-"))
    listen = listen or f"127.0.0.1:{_free_port(9091)}"
    command = [sys.executable, "-m", "collector", "serve", "--listen", listen,
               "--data-dir", str(data / "data"), "--rules", str(RULES_FILE)]  # fmt: skip
    log = data / "server.log"
    host, _, port = listen.rpartition(":")
    url = f"http://{host or '127.0.0.1'}:{port}"
    # The server runs the same code as this demo, wherever the demo is started from.
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment
        )
    try:
        _ready(url, process, log)
        print(f"batchgate demo: a server is running at {url}/ (data in {data})", flush=True)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data, ignore_errors=True)


def simulate(url: str, stop: threading.Event, seed: int) -> list[threading.Thread]:
    """Push the history, then start every simulated job on a thread of its own."""
    rng = random.Random(seed)
    connection = Connection.resolve(url, spool_dir="off", flush_timeout=5.0)
    runs = backfill(url, time.time(), rng)
    if runs:
        print(f"batchgate demo: pushed {runs:,} runs of history ({HISTORY_DAYS} days)", flush=True)
    targets: list[Callable[[], None]] = [
        lambda: hold_stuck_run(connection, stop),
        lambda: kill_a_run(connection, stop),
        lambda: push_groups(url, stop),
    ]
    for spec in CATALOG:
        if spec.live:
            own_rng = random.Random(rng.random())
            targets.append(functools.partial(run_repeatedly, spec, connection, own_rng, stop))
    threads = [threading.Thread(target=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    return threads


def main(url: str | None, listen: str | None, duration: float | None, seed: int) -> int:
    stop = threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    with contextlib.ExitStack() as stack:
        if url is None:
            try:
                url = stack.enter_context(own_server(listen))
            except (OSError, RuntimeError) as error:
                print(f"batchgate demo: cannot start a server: {error}", file=sys.stderr)
                return 1
        url = url.rstrip("/")
        try:
            threads = simulate(url, stop, seed)
        except OSError as error:
            print(f"batchgate demo: cannot reach {url}: {error}", file=sys.stderr)
            return 1
        print(
            f"batchgate demo: jobs are running; open {url}/ "
            f"({f'for {duration:.0f} s' if duration else 'Ctrl-C stops'})\n"
            "  failing: backup_db{host=db2} and now and then analytics_daily, etl_orders\n"
            "  stuck: import_customers    lost (killed): cleanup_tmp\n"
            "  running far too long: compute_pi    missed its schedule: sync_invoices",
            flush=True,
        )
        stop.wait(duration)
        stop.set()
        for thread in threads:
            thread.join(10)
        client.flush(5.0)
    print("batchgate demo: stopped", flush=True)
    return 0


def parse_args(parser: argparse.ArgumentParser) -> None:
    """The demo's flags, added to the `batchgate demo` subcommand."""
    parser.add_argument(
        "--url",
        help="a running batchgate to fill (default: start one on a temporary data directory)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="where the demo's own server listens (default 127.0.0.1:9091, or a free port)",
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
