"""The Pushgateway's own workload against batchgate and Debian's prometheus-pushgateway.

    python bench/pushgateway.py [--seconds 10]

POST of an 8-gauge-family text body from 16 connections on loopback, rotating over 1,000
groups (10k series stored) and over 10,000 groups (100k series stored), against batchgate
(consistency checks always on, every push durable) and the Pushgateway with its default
consistency check and with --push.disable-consistency-check. Then, at 100k series, the time
of one scrape of /metrics and each server's resident memory.

The Pushgateway is filled through an unchecked instance that writes its persistence file
when stopped; the instance measured starts from that file. (Filling a checked instance push
by push would re-gather everything stored for every push.)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from harness import Load, Server, batchgate, machine, pushgateway, timed_get, wrk

BODY = "".join(
    f"# HELP bench_metric_{i} A benchmark gauge.\n# TYPE bench_metric_{i} gauge\n"
    f"bench_metric_{i} {i * 1.5}\n"
    for i in range(1, 9)
).encode()


async def _fill(url: str, groups: int) -> None:
    semaphore = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:

        async def put(group: int) -> None:
            async with (
                semaphore,
                session.put(f"{url}/metrics/job/bench/instance/i{group}", data=BODY) as response,
            ):
                assert response.status in (200, 202), await response.text()

        await asyncio.gather(*(put(group) for group in range(groups)))


def fill(server: Server, groups: int) -> None:
    asyncio.run(_fill(server.url, groups))


@dataclass
class Result:
    load: Load
    scrape_ms: float | None = None
    memory_mib: float | None = None


def measure(server: Server, groups: int, seconds: int, scrape: bool) -> Result:
    load = wrk(server.url, "pushgateway_text", seconds, env={"GROUPS": str(groups)})
    result = Result(load)
    if scrape:
        result.scrape_ms = timed_get(f"{server.url}/metrics", repeats=5)[0]
        result.memory_mib = server.rss_bytes() / 2**20
    return result


def run_batchgate(groups: int, seconds: int, scrape: bool) -> Result:
    with batchgate() as server:
        fill(server, groups)
        return measure(server, groups, seconds, scrape)


def run_pushgateway(groups: int, seconds: int, scrape: bool, checked: bool) -> Result:
    with tempfile.TemporaryDirectory(prefix="pushgateway-bench-") as directory:
        state = str(Path(directory) / "state")
        with pushgateway("--push.disable-consistency-check", persistence=state) as server:
            fill(server, groups)
        flags = () if checked else ("--push.disable-consistency-check",)
        with pushgateway(*flags, persistence=state) as server:
            return measure(server, groups, seconds, scrape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    seconds = parser.parse_args().seconds
    print(f"Machine: {machine()}; wrk -t1 -c16 -d{seconds}s on loopback.\n")
    print("| groups (series) | server | pushes/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    at_100k = {}
    for groups in (1_000, 10_000):
        scrape = groups == 10_000
        results = {
            "batchgate": run_batchgate(groups, seconds, scrape),
            "pushgateway (default)": run_pushgateway(groups, seconds, scrape, checked=True),
            "pushgateway --push.disable-consistency-check": run_pushgateway(
                groups, seconds, scrape, checked=False
            ),
        }
        for name, result in results.items():
            load = result.load
            print(
                f"| {groups:,} ({groups * 10:,}) | {name} | {load.requests_per_second:,.0f} | "
                f"{load.p50_ms:.2f} | {load.p99_ms:.2f} | {load.errors} |"
            )
        ours = results["batchgate"].load.requests_per_second
        default = results["pushgateway (default)"].load.requests_per_second
        unchecked = results["pushgateway --push.disable-consistency-check"].load
        print(
            f"| {groups:,} | **ratios** | {ours / default:,.0f}x default (target >= 50x), "
            f"{ours / unchecked.requests_per_second:.2f}x unchecked (target >= 0.5x) | | | |"
        )
        if scrape:
            at_100k = results
    print("\nAt 100k series stored:\n")
    print("| server | one scrape of /metrics, ms (median of 5) | resident memory, MiB |")
    print("| --- | ---: | ---: |")
    for name, result in at_100k.items():
        print(f"| {name} | {result.scrape_ms:.0f} | {result.memory_mib:.0f} |")
    ours, theirs = at_100k["batchgate"], at_100k["pushgateway (default)"]
    assert ours.scrape_ms is not None
    assert theirs.scrape_ms is not None
    assert ours.memory_mib is not None
    assert theirs.memory_mib is not None
    print(
        f"| **ratio** | {ours.scrape_ms / theirs.scrape_ms:.2f}x (target <= 1.0x) | "
        f"{ours.memory_mib / theirs.memory_mib:.2f}x (target <= 1.5x) |"
    )


if __name__ == "__main__":
    main()
