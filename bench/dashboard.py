"""The dashboard's costs: rendering the jobs page, and live events fanned out to dashboards.

    python bench/dashboard.py [--seconds 5] [--repeat 6] [--control] [--nice 19]

1. The jobs page (GET /ui/jobs) of a batchgate holding 1,000 jobs, each with 20 finished
   runs (its sparkline) and every fifth one running with progress: wall time of one GET
   on loopback, 20 times (target: under 200 ms).
2. Pushes with and without 100 connected dashboards: 1,000 progress events/s, one event
   per POST /push, paced from 16 connections, while 100 clients follow GET /events and
   receive every event (raw sockets in a process of their own, counting what arrives).
   Compared: push latency at that rate (target: at most 10% slower with the listeners),
   then the most pushes/s wrk gets through, with and without the listeners. The phases
   alternate, `--repeat` times, and every figure is reported, so the noise is visible;
   the change within each round (one phase of each, back to back) is reported too.
   With `--control`, each round has a third phase: the same listeners fed by a stand-in
   process that writes them what batchgate's bus would (a real event's bytes, on the
   bus's schedule) while batchgate serves the pushes with nobody listening. It shows
   what the listeners' traffic alone costs the machine, batchgate's fan-out aside.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from harness import REPO, Load, batchgate, machine, post_json, timed_get, wrk

JOBS = 1000
HERE = os.path.abspath(__file__)


# -- 1. rendering the jobs page ----------------------------------------------------------------


def populate_history(url: str) -> None:
    """1,000 jobs, 20 finished runs each (one in ten failed), every fifth job running."""
    now = time.time()
    events: list[dict[str, Any]] = []
    for i in range(JOBS):
        job, labels = f"bench_job_{i:04d}", {"team": f"team{i % 10}"}
        events.extend(
            {
                "job": job,
                "labels": labels,
                "event": "fail" if (i + n) % 10 == 0 else "success",
                "duration_seconds": 60 + (i * 7 + n * 13) % 240,
                "timestamp": now - (20 - n) * 3600,
                "progress": {"done": 1000 + n, "total": 1000 + n},
            }
            for n in range(20)
        )
        if i % 5 == 0:
            progress = {"done": i, "total": 2 * JOBS}
            start = {"job": job, "labels": labels, "event": "start", "run_id": f"live-{i}"}
            events.append({**start, "progress": progress})
        if len(events) >= 900:
            post_json(f"{url}/push", events)
            events = []
    if events:
        post_json(f"{url}/push", events)


def page_bytes(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return len(answer.read())


def measure_pages(repeat: int) -> list[tuple[str, list[float], float, int]]:
    """Per page: the median of 20 GETs in each of `repeat` rounds, the worst GET, its size."""
    with batchgate() as server:
        populate_history(server.url)
        pages = (
            ("GET /ui/jobs (1,000 rows)", "/ui/jobs"),
            ("GET /ui/jobs?status=problems", "/ui/jobs?status=problems"),
            ("GET / (overview)", "/"),
            ("GET /ui/jobs/bench_job_0500 (job page)", "/ui/jobs/bench_job_0500"),
        )
        for _, path in pages:
            timed_get(server.url + path, 3)  # warm: templates compiled, SQLite pages cached
        medians: dict[str, list[float]] = {name: [] for name, _ in pages}
        worst: dict[str, float] = dict.fromkeys(medians, 0.0)
        for _ in range(repeat):
            for name, path in pages:
                median, slowest = timed_get(server.url + path, 20)
                medians[name].append(median)
                worst[name] = max(worst[name], slowest)
        return [
            (name, medians[name], worst[name], page_bytes(server.url + path))
            for name, path in pages
        ]


# -- 2. live events to 100 dashboards ---------------------------------------------------------


def populate_running(url: str) -> None:
    for first in range(0, JOBS, 500):
        post_json(f"{url}/push", [
            {"job": f"bench_{i}", "event": "start", "run_id": f"bench-{i}"}
            for i in range(first, first + 500)
        ])  # fmt: skip


async def paced_load(url: str, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    """`rate` single-event pushes per second for `seconds`; latencies of each."""
    import aiohttp

    total = int(rate * seconds)
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    next_slot = 0
    tag = f"{os.getpid()}-{time.monotonic_ns()}"

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        start = time.perf_counter() + 0.2

        async def worker() -> None:
            nonlocal next_slot, errors
            while next_slot < total:
                slot = next_slot
                next_slot += 1
                due = start + slot / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                job = slot % JOBS
                body = {
                    "job": f"bench_{job}", "event": "progress", "run_id": f"bench-{job}",
                    "event_id": f"{tag}-{slot}", "progress": {"done": slot, "total": total},
                    "resources": {"cpu_percent": 12.5, "memory_bytes": 104857600},
                }  # fmt: skip
                sent = time.perf_counter()
                lags.append(sent - due)
                async with http.post(f"{url}/push", json=body) as answer:
                    await answer.read()
                    if answer.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "pushes": len(latencies),
        "errors": errors,
        "rate": len(latencies) / elapsed,
        "mean_ms": 1000 * statistics.fmean(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "max_ms": 1000 * latencies[-1],
        "late_p99_ms": 1000 * sorted(lags)[int(len(lags) * 0.99)],
    }


def open_stream(url: str) -> tuple[socket.socket, bytes]:
    """GET /events on a raw socket, returned once the server has said `connected`, with
    what was read up to then."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    received = b""
    while b": connected" not in received:
        received += sock.recv(65536)
    return sock, received


def until_sigterm() -> Callable[[], bool]:
    """Whether SIGTERM has come (the roles' processes run until it does)."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    return lambda: stopping


def listen(url: str, count: int) -> None:
    """`count` clients of GET /events on raw sockets; prints `ready` once all are connected,
    and on SIGTERM a JSON line with the events each one received."""
    selector = selectors.DefaultSelector()
    received = [0] * count
    resyncs = [0] * count
    tails = [b""] * count
    for index in range(count):
        sock, _ = open_stream(url)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
    print("ready", flush=True)
    stopped = until_sigterm()
    while not stopped():
        for key, _ in selector.select(0.2):
            index = key.data
            chunk = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            # A marker may span two reads: count it in the seam (the previous read's tail and
            # this one's head) minus what lies wholly in either part.
            tail, head = tails[index], chunk[:31]
            for counts, marker in ((received, b"\nevent: run."), (resyncs, b"event: resync")):
                seam = (tail + head).count(marker) - tail.count(marker) - head.count(marker)
                counts[index] += chunk.count(marker) + seam
            tails[index] = chunk[-31:]
    print(json.dumps({"received": received, "resyncs": resyncs}), flush=True)


class Listeners:
    """The listen() role in a process of its own (so its reading does not slow the server's
    event loop, as real dashboards on other machines would not)."""

    def __init__(self, url: str, count: int, nice: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, HERE, "--role", "listen", "--url", url, "--listeners", str(count)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: os.nice(nice),
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> dict[str, list[int]]:
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=60)
        result: dict[str, list[int]] = json.loads(output.strip().splitlines()[-1])
        return result


def sample_event(url: str) -> bytes:
    """One `run.progress` message exactly as batchgate sends it to a listener."""
    sock, received = open_stream(url)
    with sock:
        post_json(f"{url}/push", {
            "job": "bench_0", "event": "progress", "run_id": "bench-0",
            "progress": {"done": 1, "total": 1000},
            "resources": {"cpu_percent": 12.5, "memory_bytes": 104857600},
        })  # fmt: skip
        while True:
            start = received.find(b"id: ")
            end = received.find(b"\n\n", start)
            if start >= 0 and end >= 0:
                return received[start : end + 2]
            received += sock.recv(65536)


def stand_in(count: int, rate: float, sample: bytes) -> None:
    """Play the bus's part for `count` listeners: print a port, accept them on it, then until
    SIGTERM write each one the events since its last write (copies of `sample`, `rate` a
    second), its group's turn coming as in the bus (WAKE_GROUPS groups across the flush
    interval)."""
    from batchgate.collector.live import FLUSH_INTERVAL, WAKE_GROUPS

    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    clients = []
    for _ in range(count):
        sock, _ = server.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += sock.recv(65536)
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
            b"retry: 3000\n: connected\n\n"
        )
        clients.append(sock)
    stopped = until_sigterm()
    groups = [clients[g::WAKE_GROUPS] for g in range(WAKE_GROUPS)]
    step = FLUSH_INTERVAL / WAKE_GROUPS
    batch = sample * round(rate * FLUSH_INTERVAL)
    turn, start = 0, time.monotonic()
    while not stopped():
        delay = start + turn * step - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for sock in groups[turn % WAKE_GROUPS]:
            sock.sendall(batch)
        turn += 1


class StandIn:
    def __init__(self, count: int, rate: float, sample: bytes, nice: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, HERE, "--role", "stand-in", "--listeners", str(count),
             "--rate", str(rate), "--sample", base64.b64encode(sample).decode()],
            stdout=subprocess.PIPE, text=True, cwd=REPO,
            preexec_fn=lambda: os.nice(nice),
        )  # fmt: skip
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def run_load(url: str, rate: float, seconds: float) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, HERE, "--role", "load", "--url", url, "--rate", str(rate),
         "--seconds", str(seconds)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(output)
    return result


def subscribers(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("batchgate_events_subscribers "):
                return float(line.split()[1])
    return 0.0


def wait_for_subscribers(url: str, count: int) -> None:
    """Until the server counts exactly these listeners: those of the previous phase are
    forgotten within 5 s of hanging up."""
    deadline = time.monotonic() + 30
    while subscribers(url) != count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{subscribers(url)} listeners instead of {count}")
        time.sleep(0.2)


def measure_fan_out(
    seconds: float, repeat: int, listeners: int, rate: float, control: bool, nice: int
) -> tuple[list[dict[str, dict[str, Any]]], list[tuple[str, Load]], list[dict[str, Any]]]:
    """Per round, each arm's paced figures; the most pushes/s with and without listeners;
    what the batchgate listeners received in each of their phases."""
    arms = ["no listener", f"{listeners} listeners"]
    if control:
        arms.append(f"{listeners} listeners, stand-in")
    rounds: list[dict[str, dict[str, Any]]] = []
    maximum: list[tuple[str, Load]] = []
    deliveries: list[dict[str, Any]] = []
    with batchgate() as server:
        populate_running(server.url)
        run_load(server.url, rate, 2)  # warm up
        sample = sample_event(server.url) if control else b""
        for round_ in range(repeat):
            # Rotate the order, so that no arm always follows the same one.
            order = arms[round_ % len(arms) :] + arms[: round_ % len(arms)]
            phases: dict[str, dict[str, Any]] = {}
            for arm in order:
                wait_for_subscribers(server.url, 0)
                stand = None
                if arm.endswith("stand-in"):
                    stand = StandIn(listeners, rate, sample, nice)
                group = None
                if arm != "no listener":
                    group = Listeners(stand.url if stand else server.url, listeners, nice)
                if stand is None and group is not None:
                    wait_for_subscribers(server.url, listeners)
                cpu = server.cpu_seconds()
                result = run_load(server.url, rate, seconds)
                result["server_cores"] = (server.cpu_seconds() - cpu) / seconds
                phases[arm] = result
                if group is not None:
                    time.sleep(1.0)  # the last flush reaches the listeners
                    got = group.stop()
                    if stand is None:
                        deliveries.append({
                            "pushed": result["pushes"],
                            "least_received": min(got["received"]),
                            "most_received": max(got["received"]),
                            "resyncs": sum(got["resyncs"]),
                        })  # fmt: skip
                if stand is not None:
                    stand.stop()
            rounds.append(phases)
        for round_ in range(repeat):
            for with_listeners in (False, True) if round_ % 2 == 0 else (True, False):
                name = f"{listeners} listeners" if with_listeners else "no listener"
                wait_for_subscribers(server.url, 0)
                group = Listeners(server.url, listeners, nice) if with_listeners else None
                env = {"JOBS": str(JOBS), "RUN": f"w{round_}{int(with_listeners)}"}
                load = wrk(server.url, "batchgate_progress", int(seconds), env=env)
                maximum.append((name, load))
                if group is not None:
                    group.stop()
    return rounds, maximum, deliveries


def report(args: argparse.Namespace) -> None:
    pages = measure_pages(args.repeat)
    rounds, maximum, deliveries = measure_fan_out(
        args.seconds, args.repeat, args.listeners, args.rate, args.control, args.nice
    )
    control = (" --control" if args.control else "") + (f" --nice {args.nice}" if args.nice else "")
    print(f"Machine: {machine()}. Command: python bench/dashboard.py --seconds {args.seconds} "
          f"--repeat {args.repeat}{control}\n")  # fmt: skip
    print("| page | median ms (each round of 20 GETs) | median | worst GET ms | size | target |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for name, medians, worst, size in pages:
        target = "< 200 ms" if name.startswith("GET /ui/jobs (") else ""
        rounds_ = ", ".join(f"{m:.0f}" for m in medians)
        print(
            f"| {name} | {rounds_} | {statistics.median(medians):.1f} | {worst:.0f} | "
            f"{size / 1024:.0f} KiB | {target} |"
        )
    print(f"\n{args.rate:.0f} single-event pushes/s from 16 connections for {args.seconds} s, "
          f"with and without {args.listeners} clients following /events:\n")  # fmt: skip
    print("| round | listeners | pushes/s | mean ms | p50 ms | p99 ms | max ms | server CPU "
          "| errors |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for number, phases in enumerate(rounds, 1):
        for name, r in phases.items():
            print(
                f"| {number} | {name} | {r['rate']:.0f} | {r['mean_ms']:.2f} | "
                f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | "
                f"{r['server_cores']:.2f} | {r['errors']} |"
            )
    for delivered in deliveries:
        print(
            f"\nDelivered: {delivered['pushed']} events pushed; each listener received "
            f"{delivered['least_received']} to {delivered['most_received']}; "
            f"resyncs: {delivered['resyncs']}",
            end="",
        )
    print("\n")
    print("| most pushes/s (wrk -c16) | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, load in maximum:
        print(
            f"| {name} | {load.requests_per_second:.0f} | {load.p50_ms:.2f} | "
            f"{load.p99_ms:.2f} | {load.errors} |"
        )
    print(
        "\n| median over the rounds | arm | without | with | change | "
        "change within each round (sorted) | median of those |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- | ---: |")
    measures = (
        ("p50 latency, ms", "p50_ms"),
        ("mean latency, ms", "mean_ms"),
        ("p99 latency, ms", "p99_ms"),
        ("server CPU, cores", "server_cores"),
    )
    # A round is one phase of each arm, back to back: the machine's own drift (other tenants
    # of the VM) is smallest between them, so each round's ratio is the steadier figure.
    for label, key in measures:
        without = statistics.median(r["no listener"][key] for r in rounds)
        for arm in (a for a in rounds[0] if a != "no listener"):
            with_ = statistics.median(r[arm][key] for r in rounds)
            changes = sorted(100 * (r[arm][key] / r["no listener"][key] - 1) for r in rounds)
            print(
                f"| {label} | {arm} | {without:.2f} | {with_:.2f} | "
                f"{100 * (with_ / without - 1):+.0f}% | "
                f"{', '.join(f'{c:+.0f}%' for c in changes)} | "
                f"{statistics.median(changes):+.0f}% |"
            )
    without = statistics.median(x.requests_per_second for n, x in maximum if n == "no listener")
    with_ = statistics.median(x.requests_per_second for n, x in maximum if n != "no listener")
    print(f"| most pushes/s | {args.listeners} listeners | {without:.0f} | {with_:.0f} | "
          f"{100 * (with_ / without - 1):+.0f}% |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument(
        "--control", action="store_true", help="add the stand-in arm (see the docstring)"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the listeners' (and stand-in's) processes: they stand for browsers "
        "on other machines, and at 19 take only what the server leaves idle",
    )
    parser.add_argument(
        "--role", choices=("report", "load", "listen", "stand-in"), default="report"
    )
    parser.add_argument("--url")
    parser.add_argument("--sample", help="the stand-in's event, base64")
    args = parser.parse_args()
    if args.role == "load":
        print(json.dumps(asyncio.run(paced_load(args.url, args.rate, args.seconds, 16))))
    elif args.role == "listen":
        listen(args.url, args.listeners)
    elif args.role == "stand-in":
        stand_in(args.listeners, args.rate, base64.b64decode(args.sample))
    else:
        report(args)


if __name__ == "__main__":
    main()
