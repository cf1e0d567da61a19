"""How much `batchgate.celery.monitor(app)` slows a Celery worker, in one run.

    python bench/celery_overhead.py [--tasks 1000] [--rounds 2] [--pin] [--against DIR]

A Redis broker (redis-server on a free port), a batchgate server, and a real Celery worker
(prefork, one process) draining `--tasks` trivial tasks queued beforehand: the time from the
worker's start of the first task to its end of the last, with and without the monitor,
alternating (the issue allows 5%). `--against DIR` adds a third drain to each round, the
monitor imported from DIR (another build's link tree, e.g. `build/dev` of a worktree at an
older commit): two versions of the monitor compared in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from harness import REPO, batchgate, free_port, machine, need, wait_http

TASKS = """
import os
import time

from celery import Celery

app = Celery("tasks", broker=os.environ["BROKER_URL"], backend=None)
app.conf.update(task_default_queue="bench", worker_prefetch_multiplier=16,
                broker_connection_retry_on_startup=True, task_ignore_result=True)
if os.environ.get("MONITOR"):
    from batchgate.celery import monitor

    monitor(app, url=os.environ["COLLECTOR_URL"])


@app.task(name="bench.noop")
def noop(n):
    if n == 0 or n == int(os.environ["LAST"]):
        with open(os.environ["MARKS"], "a") as marks:
            marks.write(f"{time.time()} {time.process_time()}\\n")
"""


WORKER_CPU = 0
"""With --pin: the CPU of the worker's processes (the rest run on the other)."""


def pool_process(worker: int) -> int | None:
    """The worker's pool process (its one child), once it has one."""
    for thread in os.listdir(f"/proc/{worker}/task"):
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{worker}/task/{thread}/children").read_text().split()
            if children:
                return int(children[0])
    return None


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of `pid` so far (Linux: /proc/PID/task/TID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds: dict[int, float] = {}
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone: a process the worker started before its pool's
        return seconds
    for thread in threads:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[int(thread)] = (int(fields[11]) + int(fields[12])) / tick
    return seconds


def drain(
    folder: Path,
    broker: str,
    collector: str,
    tasks: int,
    monitor: bool,
    pin: bool,
    build: Path = REPO / "build" / "dev",
) -> tuple[float, float, float, float]:
    """Seconds from the first task's start to the last one's, the CPU seconds the pool
    process (the tasks, the monitor's handlers and its sending thread) spent meanwhile,
    those of its threads other than the tasks' (the SDK's sending thread), and those of
    the worker's main process (it takes the messages from the broker and hands them to
    the pool)."""
    marks = folder / f"marks-{monitor}-{time.time_ns()}"
    env = {**os.environ, "BROKER_URL": broker, "COLLECTOR_URL": collector, "LAST": str(tasks - 1),
           "MARKS": str(marks), "PYTHONPATH": f"{folder}:{build}"}  # fmt: skip
    if monitor:
        env["MONITOR"] = "1"
    enqueue = (
        "import tasks\n"
        f"for n in range({tasks}): tasks.noop.delay(n)\n"
        "import batchgate; batchgate.flush(30)\n"
    )
    subprocess.run([sys.executable, "-c", enqueue], cwd=folder, env=env, check=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork",
         "--concurrency", "1", "--queues", "bench", "--without-gossip", "--without-mingle",
         "--loglevel", "warning"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, {WORKER_CPU})) if pin else None,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        pool, threads_at_first, main_at_first = None, None, 0.0
        while time.monotonic() < deadline:
            lines = marks.read_text().splitlines() if marks.exists() else []
            pool = pool or pool_process(worker.pid)
            if lines and threads_at_first is None and pool is not None:
                threads_at_first = thread_cpu(pool) or None  # within a poll of the first task
                main_at_first = sum(thread_cpu(worker.pid).values())
                if threads_at_first is None:
                    pool = None  # that child has ended: look again
            if len(lines) >= 2:
                (first, first_cpu), (last, last_cpu) = (
                    map(float, line.split()) for line in lines[:2]
                )
                others = 0.0
                if pool is not None and threads_at_first is not None:
                    others = sum(
                        seconds - threads_at_first.get(thread, 0.0)
                        for thread, seconds in thread_cpu(pool).items()
                        if thread != pool
                    )
                main = sum(thread_cpu(worker.pid).values()) - main_at_first
                return last - first, last_cpu - first_cpu, others, main
            time.sleep(0.02)
        raise RuntimeError("the worker did not drain the queue")
    finally:
        worker.terminate()
        worker.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--pin", action="store_true", help="the worker on one CPU, the rest on the other"
    )
    parser.add_argument(
        "--against", type=Path, metavar="DIR",
        help="also drain with the monitor of the build whose link tree is DIR",
    )  # fmt: skip
    args = parser.parse_args()
    variants: list[tuple[str, bool, Path]] = [
        ("off", False, REPO / "build" / "dev"),
        ("on", True, REPO / "build" / "dev"),
    ]
    if args.against:
        variants.append((f"on ({args.against})", True, args.against.resolve()))
    if args.pin:  # what this process starts from now on (Redis, the collector) inherits it
        os.sched_setaffinity(0, {1 - WORKER_CPU})
    server = need("redis-server", "redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="celery-bench-") as scratch:
        folder = Path(scratch)
        (folder / "tasks.py").write_text(textwrap.dedent(TASKS))
        redis = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", scratch],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(0.5)
            broker = f"redis://127.0.0.1:{port}/0"
            rows = []
            with batchgate() as collector:
                wait_http(f"{collector.url}/-/ready")
                for round_number in range(1, args.rounds + 1):
                    for name, monitor, build in variants:
                        seconds, cpu, others, main = drain(
                            folder, broker, collector.url, args.tasks, monitor, args.pin, build
                        )
                        rows.append((round_number, name, seconds, cpu, others, main))
        finally:
            redis.terminate()
            redis.wait(10)
    print(f"Machine: {machine()}; {args.tasks} trivial tasks, one prefork worker process.\n")
    print("| round | monitor | seconds to drain | tasks/s | pool process CPU µs a task | "
          "of which other threads | main process CPU µs a task |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for round_number, name, seconds, cpu, others, main in rows:
        print(f"| {round_number} | {name} | {seconds:.2f} | "
              f"{args.tasks / seconds:,.0f} | {cpu / args.tasks * 1e6:,.0f} | "
              f"{others / args.tasks * 1e6:,.1f} | {main / args.tasks * 1e6:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
