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
- a task queue, `emails` (`app.tasks.send_email`): a burst of 60 tasks every two minutes,
  one worker, so it backs up and drains; one task in ten is retried,
- Pushgateway groups pushed by prometheus_client (`db_dump` on two hosts, every 15 s, and
  `nightly_export` pushed once).

The server the demo starts gets `demo_rules.yaml`: the default rules, and two that the
demo trips (compute_pi running over 2 minutes, sync_invoices without success for 30).

The stuck run's beginning is pushed with past timestamps, so the default 15-minute rule
fires at once. `batchgate.collector.demo.jobs` says what the jobs are and do; this module runs them:
the server, the history, a thread per job, the killed process, the signals.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import batchgate
from batchgate import Connection, Job, client
from batchgate.collector.demo.jobs import (
    CATALOG,
    HISTORY_DAYS,
    Simulated,
    history_events,
    stuck_beginning,
)
from batchgate.collector.demo.queue import run_queue

RULES_FILE = Path(__file__).with_name("rules.yaml")
IMPORT_ROOT = str(Path(batchgate.__file__).parent.parent)
"""Where this `batchgate` was imported from: the demo's processes run the same code."""


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
from batchgate import Connection, Job
job = Job("cleanup_tmp", heartbeat=1, lost_after=6, progress_interval=0.2,
          connection=Connection.resolve(sys.argv[1], spool_dir="off")).start()
for step in range(1, 100000):
    job.progress(done=step * 37, total=100000)
    time.sleep(0.2)
"""


def kill_a_run(connection: Connection, stop: threading.Event, every: float = 600.0) -> None:
    """Start a job in a process of its own and kill it with SIGKILL: its run gets lost."""
    environment = {**os.environ, "PYTHONPATH": IMPORT_ROOT}
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
    command = [sys.executable, "-m", "batchgate", "serve", "--listen", listen,
               "--data-dir", str(data / "data"), "--rules", str(RULES_FILE)]  # fmt: skip
    log = data / "server.log"
    host, _, port = listen.rpartition(":")
    url = f"http://{host or '127.0.0.1'}:{port}"
    # The server runs the same code as this demo, wherever the demo is started from.
    environment = {**os.environ, "PYTHONPATH": IMPORT_ROOT}
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
        functools.partial(run_queue, connection, stop, random.Random(rng.random())),
    ]
    for spec in CATALOG:
        if spec.live:
            own_rng = random.Random(rng.random())
            targets.append(functools.partial(run_repeatedly, spec, connection, own_rng, stop))
    threads = [threading.Thread(target=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    return threads


class Stopped(Exception):
    """SIGINT or SIGTERM: the demo stops."""


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Raised in the main thread, not `stop.set()` from here: a handler runs between two
    # bytecodes of the main thread, which may hold the event's lock just then; two signals
    # at once (as `timeout` sends them, to the process and to its group) hung the demo for
    # good. The demo is stopping from the first one on, so later ones are ignored.
    _ignore_signals()
    raise Stopped


def _ignore_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def main(url: str | None, listen: str | None, duration: float | None, seed: int) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    try:
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
            with contextlib.suppress(Stopped):
                stop.wait(duration)
            _ignore_signals()  # stopping now: nothing may cut short the cleaning up
            stop.set()
            for thread in threads:
                thread.join(10)
            client.flush(5.0)
    except Stopped:
        stop.set()  # while starting, or while stopping: what was started is stopped
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
