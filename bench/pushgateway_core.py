"""Micro-benchmark of the Pushgateway core: parse + check + store, and the scrape render.

Run: python bench/pushgateway_core.py [--pushgateway]

With --pushgateway (and Debian's prometheus-pushgateway installed) the same groups are
pushed to the real Pushgateway on loopback, for its scrape time and its checked push time
at the same sizes: context for the core's figures, not a like-for-like HTTP benchmark.

The workload is the issue's: an 8-gauge-family text body POSTed to groups rotating over
1,000 and then 10,000 stored groups (10k and 100k series with the push timestamps), and one
render of /metrics at 100k series. Figures are per operation, best of a few rounds.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchgate.collector.pushgateway import GroupRegistry, parse_text


def body(values: int, label: str = "s") -> bytes:
    """The 8-gauge-family text body, its values starting at `values`."""
    return "".join(
        f"# HELP batch_metric_{i} Some metric number {i}.\n"
        f"# TYPE batch_metric_{i} gauge\n"
        f'batch_metric_{i}{{stage="{label}{i}"}} {(values + i) * 1.5}\n'
        for i in range(8)
    ).encode()


BODY = body(0)


def path(group: int) -> str:
    return f"job/bench/instance/i{group}"


def filled(groups: int) -> GroupRegistry:
    registry = GroupRegistry()
    for group in range(groups):
        registry.push("PUT", path(group), BODY, None, False, 1.0)
    return registry


def per_operation(run, operations: int, rounds: int = 5) -> float:
    """Best seconds per operation over `rounds` runs of `operations`."""
    results = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        run(operations)
        results.append((time.perf_counter() - start) / operations)
    return min(results)


def bench_push(groups: int) -> dict[str, float]:
    registry = filled(groups)
    pushed = [0]
    # Each push to a group brings other values than its previous one (the fast path renders
    # them all), or other label values too (the full path: parse, check, series replaced).
    new_values = [body(number) for number in range(1000)]
    new_labels = [body(number, label=f"r{number}-") for number in range(1000)]

    def pushes(bodies: list[bytes]) -> Callable[[int], None]:
        def push(count: int) -> None:
            for _ in range(count):
                number = pushed[0] = pushed[0] + 1
                group, visit = number % groups, number // groups
                registry.push("POST", path(group), bodies[visit % 1000], None, False, number)

        return push

    def parses(count: int) -> None:
        for _ in range(count):
            parse_text(BODY)

    def snapshots(count: int) -> None:
        for number in range(count):
            registry.snapshot_group((("instance", f"i{number % groups}"), ("job", "bench")))

    return {
        "push, new values (fast path)": per_operation(pushes(new_values), 2000),
        "push, new labels (full path)": per_operation(pushes(new_labels), 2000),
        "parse only": per_operation(parses, 2000),
        "snapshot of the group": per_operation(snapshots, 2000),
    }


def bench_render(groups: int) -> dict[str, float]:
    registry = filled(groups)
    series = sum(1 for line in registry.render_text().splitlines() if not line.startswith("#"))
    results = {}

    pushed = [0]

    def dirty_render(count: int) -> None:
        for _ in range(count):
            # One push with new values dirties every family of the body and push_time_seconds.
            number = pushed[0] = pushed[0] + 1
            registry.push("POST", path(number), body(number), None, False, 3.0 + number)
            registry.render_text()

    def cached_render(count: int) -> None:
        for _ in range(count):
            registry.render_text()

    results["render after a push (all families rejoined)"] = per_operation(dirty_render, 20)
    results["render, nothing changed (cached)"] = per_operation(cached_render, 1000)
    results["series"] = series
    return results


def memory(groups: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    registry = filled(groups)
    registry.render_text()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del registry
    return after - before


def real_pushgateway_figures(groups: int) -> None:
    import http.client
    import os
    import shutil
    import socket
    import subprocess

    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        print("prometheus-pushgateway is not installed: no comparison")
        return
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    fd = listener.fileno()

    def hand_over_socket() -> None:
        os.dup2(fd, 3)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())

    process = subprocess.Popen(
        [binary, "--web.systemd-socket", "--persistence.file=", "--log.level=error"],
        preexec_fn=hand_over_socket,
        pass_fds=(fd, 3),
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port)

        def request(method: str, target: str, body: bytes | None = None) -> bytes:
            connection.request(method, target, body)
            response = connection.getresponse()
            return response.read()

        timings = []
        for group in range(groups):
            start = time.perf_counter()
            request("POST", "/metrics/" + path(group), BODY)
            timings.append(time.perf_counter() - start)
            if group + 1 in (1_000, groups):
                recent = sorted(timings[-200:])[100]
                print(
                    f"Pushgateway, {group + 1:>6} groups stored: checked POST"
                    f" {recent * 1e3:8.2f} ms  (median of the last 200, one connection)"
                )
        start = time.perf_counter()
        scrape = request("GET", "/metrics")
        elapsed = time.perf_counter() - start
        print(f"Pushgateway scrape of {scrape.count(b'job=')} series: {elapsed * 1e3:.0f} ms")
    finally:
        process.terminate()
        process.wait()
        listener.close()


def main() -> None:
    print(f"python {sys.version.split()[0]}, body {len(BODY)} bytes, 8 gauge families")
    for groups in (1_000, 10_000):
        figures = bench_push(groups)
        for name, seconds in figures.items():
            print(
                f"{groups:>6} groups stored ({groups * 10:>7} series): {name:<30}"
                f" {seconds * 1e6:8.1f} us  ({1 / seconds:8.0f}/s)"
            )
    render = bench_render(10_000)
    series = int(render.pop("series"))
    for name, seconds in render.items():
        print(f"render_text of {series} series: {name:<44} {seconds * 1e3:8.2f} ms")
    size = memory(10_000)
    print(
        f"memory held for 10,000 groups (100k series): {size / 2**20:.1f} MiB"
        f" ({size / 100_000:.0f} bytes/series)"
    )


if __name__ == "__main__":
    main()
    if "--pushgateway" in sys.argv:
        real_pushgateway_figures(10_000)
