"""The cost of queue bookkeeping on pushes, and GET /queues at scale, in one run.

    python bench/queues.py [--seconds 5] [--rounds 2]

Pushes: the same build, two servers each holding 10,000 running runs, pushed progress
events from 16 connections (one event per request, then batches of 100). In one the runs
were simply started; in the other each was queued in one of 100 queues first, so every
event moves queue bookkeeping (the issue allows it 10%). The two alternate, `--rounds`
times. Queries: GET /queues over 1,000 queues holding 100,000 waiting runs (target: under
50 ms).
"""

from __future__ import annotations

import argparse

from harness import Load, batchgate, machine, post_json, timed_get, wrk

JOBS = 10_000


def populate(url: str, queued: bool) -> None:
    for first in range(0, JOBS, 500):
        events: list[dict[str, object]] = []
        for i in range(first, first + 500):
            run = {"job": f"bench_{i}", "run_id": f"bench-{i}"}
            if queued:
                events.append({**run, "event": "queued", "queue": f"queue_{i % 100}"})
            events.append({**run, "event": "start"})
        post_json(f"{url}/push", events)


def populate_waiting(url: str, runs: int = 100_000, queues: int = 1000) -> None:
    for first in range(0, runs, 1000):
        post_json(
            f"{url}/push",
            [
                {"job": f"task_{i % 50}", "event": "queued", "run_id": f"w-{i}",
                 "queue": f"queue_{i % queues:04d}"}
                for i in range(first, first + 1000)
            ],
        )  # fmt: skip


def measure(queued: bool, seconds: int) -> tuple[Load, Load]:
    with batchgate() as server:
        populate(server.url, queued)
        env = {"JOBS": str(JOBS)}
        single = wrk(server.url, "batchgate_progress", seconds, env=env)
        batched = wrk(server.url, "batchgate_batch", seconds, env={**env, "BATCH": "100"})
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each load phase")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two")
    args = parser.parse_args()
    rows = []
    for round_number in range(1, args.rounds + 1):
        for queued in (False, True):
            single, batched = measure(queued, args.seconds)
            rows.append((round_number, queued, single, batched))
    with batchgate() as server:
        populate_waiting(server.url)
        first_page = timed_get(f"{server.url}/queues")
        every_queue = timed_get(f"{server.url}/queues?limit=1000")
        one_queue = timed_get(f"{server.url}/queues/queue_0001")

    print(f"Machine: {machine()}; wrk -t1 -c16 -d{args.seconds}s on loopback.\n")
    print("| round | runs | single events/s (p50 ms) | batched events/s (p50 ms) |")
    print("| --- | --- | ---: | ---: |")
    for round_number, queued, single, batched in rows:
        what = "queued in 100 queues" if queued else "started, no queue"
        print(
            f"| {round_number} | {what} | {single.requests_per_second:,.0f} "
            f"({single.p50_ms:.2f}) | {batched.requests_per_second * 100:,.0f} "
            f"({batched.p50_ms:.2f}) |"
        )
    print()
    print("| query (1,000 queues, 100,000 waiting runs) | median ms | worst of 20 ms |")
    print("| --- | ---: | ---: |")
    for name, (median, worst) in (
        ("GET /queues (first page of 100)", first_page),
        ("GET /queues?limit=1000", every_queue),
        ("GET /queues/{queue} (100 waiting)", one_queue),
    ):
        print(f"| {name} | {median:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    main()
