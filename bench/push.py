"""Push throughput of POST /push against the Pushgateway's own push rate, in one run.

    python bench/push.py [--seconds 10]

batchgate holds 10,000 jobs, each with a running run, durability on (the default), and
takes progress events from 16 connections on loopback: one event per request, then
batches of 100. Debian's prometheus-pushgateway, in the same run, takes an 8-gauge-family
text push rotating over 1,000 groups (10k series stored), with its default consistency
check and with --push.disable-consistency-check. Also timed: GET /jobs over 10,000 jobs,
and GET /jobs/{job}/trends?period=30d over 100,000 runs of one job.
"""

from __future__ import annotations

import argparse
import time

from harness import (
    Load,
    batchgate,
    machine,
    post_json,
    pushgateway,
    timed_get,
    wrk,
)

JOBS = 10_000
GROUPS = 1_000


def populate_jobs(url: str) -> None:
    for first in range(0, JOBS, 1000):
        post_json(
            f"{url}/push",
            [
                {"job": f"bench_{i}", "event": "start", "run_id": f"bench-{i}"}
                for i in range(first, first + 1000)
            ],
        )


def populate_trend_runs(url: str, runs: int = 100_000) -> None:
    now = time.time()
    spacing = 29 * 86400 / runs
    for first in range(0, runs, 1000):
        post_json(
            f"{url}/push",
            [
                {
                    "job": "trend_job",
                    "event": "success" if i % 10 else "fail",
                    "duration_seconds": 60 + i % 600,
                    "timestamp": now - 29 * 86400 + i * spacing,
                    "progress": {"done": 1000 + i % 50},
                }
                for i in range(first, first + 1000)
            ],
        )


def populate_groups(url: str) -> None:
    import urllib.request

    body = "".join(
        f"# TYPE bench_metric_{i} gauge\nbench_metric_{i} {i * 1.5}\n" for i in range(1, 9)
    ).encode()
    for group in range(GROUPS):
        request = urllib.request.Request(
            f"{url}/metrics/job/bench/instance/i{group}", body, method="PUT"
        )
        urllib.request.urlopen(request, timeout=30).read()


def row(name: str, load: Load, events_per_request: int = 1) -> str:
    return (
        f"| {name} | {load.requests_per_second * events_per_request:,.0f} | "
        f"{load.requests_per_second:,.0f} | {load.p50_ms:.2f} | {load.p99_ms:.2f} | "
        f"{load.errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    args = parser.parse_args()
    seconds = args.seconds

    with batchgate() as server:
        populate_jobs(server.url)
        single = wrk(server.url, "batchgate_progress", seconds, env={"JOBS": str(JOBS)})
        batched = wrk(
            server.url, "batchgate_batch", seconds, env={"JOBS": str(JOBS), "BATCH": "100"}
        )
        jobs_page = timed_get(f"{server.url}/jobs")
        jobs_scan = timed_get(f"{server.url}/jobs?status=failed")
        jobs_big = timed_get(f"{server.url}/jobs?limit=1000")
        populate_trend_runs(server.url)
        trends = timed_get(f"{server.url}/jobs/trend_job/trends?period=30d")
        memory = server.rss_bytes()

    with pushgateway() as server:
        populate_groups(server.url)
        checked = wrk(server.url, "pushgateway_text", seconds, env={"GROUPS": str(GROUPS)})
    with pushgateway("--push.disable-consistency-check") as server:
        populate_groups(server.url)
        unchecked = wrk(server.url, "pushgateway_text", seconds, env={"GROUPS": str(GROUPS)})

    print(f"Machine: {machine()}; wrk -t1 -c16 -d{seconds}s on loopback.\n")
    print("| load | events/s | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(row("batchgate: 1 progress event per push (10k jobs)", single))
    print(row("batchgate: 100 progress events per push (10k jobs)", batched, 100))
    print(row("pushgateway: 8-family text push, default (10k series)", checked))
    print(row("pushgateway: 8-family text push, consistency check off", unchecked))
    print()
    unchecked_rate = unchecked.requests_per_second
    print("| ratio | measured | target |")
    print("| --- | ---: | ---: |")
    print(
        f"| single events / pushgateway unchecked | "
        f"{single.requests_per_second / unchecked_rate:.2f}x | >= 0.5x |"
    )
    print(
        f"| single events / pushgateway default | "
        f"{single.requests_per_second / checked.requests_per_second:.1f}x | >= 50x |"
    )
    print(
        f"| batched events/s / pushgateway unchecked pushes/s | "
        f"{batched.requests_per_second * 100 / unchecked_rate:.2f}x | >= 2x |"
    )
    print()
    print("| query | median ms | worst of 20 ms | target |")
    print("| --- | ---: | ---: | ---: |")
    for name, (median, worst), target in (
        ("GET /jobs (first page of 100, 10k jobs)", jobs_page, "< 100"),
        ("GET /jobs?status=failed (scans 10k jobs)", jobs_scan, "< 100"),
        ("GET /jobs?limit=1000", jobs_big, ""),
        ("GET /jobs/trend_job/trends?period=30d (100k runs)", trends, "< 100"),
    ):
        print(f"| {name} | {median:.1f} | {worst:.1f} | {target} |")
    print(f"\nbatchgate resident memory at the end: {memory / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
