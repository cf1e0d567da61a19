"""How long fanning out live events holds up batchgate's event loop: what a push waits behind.

    python bench/live_stalls.py [--seconds 6] [--repeat 3] [--listeners 100] [--rate 1000]

In this process: the real `GET /events` handler and event bus on an aiohttp server, `rate`
run events per second published on the bus (a run as `/events` carries it), and
`listeners` clients reading every event on raw sockets in a process of their own. A
callback queued again on every turn of the loop times each turn: a turn longer than
0.1 ms is a stall, time in which a push that has arrived is not read. Rounds alternate
with and without the listeners (without, publishing costs nothing), so what the
listeners add stands beside what the machine does anyway. The heartbeat keeps the loop
spinning, so the process's CPU use says nothing here; `bench/dashboard.py` measures that.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from dashboard import Listeners
from harness import free_port, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.api_json import run_json
from collector.handlers.live_events import events
from collector.keys import BUS, SETTINGS
from collector.live import EventBus
from collector.model import JobKey, Run
from collector.settings import Settings

STALL = 0.0001
"""A turn of the loop longer than this (seconds) is a stall."""


def sample_run() -> dict[str, Any]:
    now = time.time()
    run = Run(
        run_id="bench-1",
        job=JobKey("bench_1", ()),
        status="running",
        started_at=now - 60,
        last_event_at=now,
        last_progress_at=now,
    )
    run.done, run.total, run.cpu_percent, run.memory_bytes = 500, 1_000_000, 12.5, 104857600
    return run_json(run, now, Settings().runs)


async def measure(bus: EventBus, rate: float, seconds: float) -> dict[str, float]:
    """Publish `rate` events/s for `seconds` while timing every turn of the loop."""
    loop = asyncio.get_running_loop()
    data = sample_run()
    turns: list[float] = []
    start = last = time.perf_counter()

    def heartbeat() -> None:
        nonlocal last
        now = time.perf_counter()
        turns.append(now - last)
        last = now
        if now - start < seconds:
            loop.call_soon(heartbeat)

    loop.call_soon(heartbeat)
    due = loop.time()
    while time.perf_counter() - start < seconds:
        due += 1 / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        bus.publish("run.progress", dict(data))
    stalls = sorted(turn for turn in turns if turn > STALL)
    return {
        "stalls_per_second": len(stalls) / seconds,
        "stalled_ms_per_second": 1000 * sum(stalls) / seconds,
        "p999_turn_ms": 1000 * sorted(turns)[int(len(turns) * 0.999)],
    }


async def run(args: argparse.Namespace) -> list[tuple[int, dict[str, float]]]:
    app = web.Application()
    app[BUS], app[SETTINGS] = EventBus(), Settings()
    app.router.add_get("/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    results = []
    try:
        for round_ in range(args.repeat):
            for count in (0, args.listeners) if round_ % 2 == 0 else (args.listeners, 0):
                group = None
                if count:  # subscribed once they are ready: the handler subscribes first
                    group = await asyncio.to_thread(Listeners, f"http://127.0.0.1:{port}", count)
                    assert app[BUS].subscribers == count
                results.append((count, await measure(app[BUS], args.rate, args.seconds)))
                if group is not None:
                    await asyncio.to_thread(group.stop)
                    while app[BUS].subscribers:  # each notices the hang-up at its next write
                        app[BUS].publish("run.progress", {"job": "bench_1"})
                        await asyncio.sleep(0.15)
    finally:
        await runner.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each phase")
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000, help="events published per second")
    args = parser.parse_args()
    print(f"# live_stalls on {machine()}")
    print(f"# {args.rate:.0f} events/s, {args.seconds:.0f} s per phase, {args.repeat} rounds\n")
    results = asyncio.run(run(args))
    print("| listeners | stalls > 0.1 ms per s | time stalled per s | 99.9th pct turn |")
    print("|---|---|---|---|")
    for count, result in results:
        print(
            f"| {count} | {result['stalls_per_second']:.0f} "
            f"| {result['stalled_ms_per_second']:.1f} ms | {result['p999_turn_ms']:.3f} ms |"
        )
    for count in sorted({count for count, _ in results}):
        stalled = statistics.median(r["stalled_ms_per_second"] for c, r in results if c == count)
        print(f"\nmedian time stalled with {count} listeners: {stalled:.1f} ms per second")


if __name__ == "__main__":
    main()
