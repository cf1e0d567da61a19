"""A bounded mixed load on one batchgate, and proof that nothing was lost.

    python bench/soak.py [--minutes 5]

On loopback, all at once: workers running jobs through POST /push (start, progress every
few hundred ms, then success or fail), Pushgateway pushes over a set of groups, a scrape of
/metrics every second, queries (/jobs, /summary, trends, /alerts) several times a second,
and live dashboards following GET /events; the default rules are active. The server's
resident memory is sampled throughout. At the end every run whose final push was answered
200 is read back: it must be there, with the status that was pushed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

try:
    from harness import batchgate, machine  # type: ignore[import-not-found]
except ImportError:  # imported from the tests, with bench/ not on the path
    from bench.harness import batchgate, machine


@dataclass
class Report:
    seconds: float
    pushes: int = 0
    push_latencies: list[float] = field(default_factory=list)
    server_errors: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)
    """run_id -> status, for runs whose final push was acknowledged."""
    group_pushes: int = 0
    scrapes: int = 0
    queries: int = 0
    live_events: int = 0
    memory: list[tuple[float, int]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.push_latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def _post(session: aiohttp.ClientSession, url: str, body: Any, report: Report) -> bool:
    started = time.perf_counter()
    async with session.post(f"{url}/push", json=body) as response:
        await response.read()
        report.push_latencies.append(time.perf_counter() - started)
        report.pushes += 1
        if response.status >= 500:
            report.server_errors += 1
        elif response.status != 200:
            report.refused[response.status] = report.refused.get(response.status, 0) + 1
        return response.status == 200


async def _job_worker(url: str, worker: int, until: float, report: Report) -> None:
    rng = random.Random(worker)
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < until:
            job = f"soak_{worker}_{rng.randrange(20)}"
            run_id = uuid.uuid4().hex
            labels = {"shard": str(worker % 4)}
            if not await _post(session, url, {"job": job, "labels": labels, "event": "start",
                                              "run_id": run_id}, report):  # fmt: skip
                continue
            total = rng.randrange(5, 30)
            for done in range(total):
                await asyncio.sleep(rng.uniform(0.05, 0.3))
                await _post(
                    session, url,
                    {"job": job, "labels": labels, "event": "progress", "run_id": run_id,
                     "event_id": uuid.uuid4().hex, "progress": {"done": done, "total": total},
                     "resources": {"cpu_percent": rng.uniform(0, 100), "memory_bytes": 1e8}},
                    report,
                )  # fmt: skip
            status = "fail" if rng.random() < 0.1 else "success"
            final = {"job": job, "labels": labels, "event": status, "run_id": run_id}
            if await _post(session, url, final, report):
                report.finished[run_id] = "succeeded" if status == "success" else "failed"


async def _group_worker(url: str, until: float, report: Report) -> None:
    body = "".join(f"# TYPE soak_gauge_{i} gauge\nsoak_gauge_{i} {i}\n" for i in range(8))
    async with aiohttp.ClientSession() as session:
        number = 0
        while time.monotonic() < until:
            number += 1
            path = f"/metrics/job/soak_group/instance/i{number % 200}"
            async with session.post(f"{url}{path}", data=body.encode()) as response:
                await response.read()
                report.group_pushes += 1
                if response.status >= 500:
                    report.server_errors += 1
            await asyncio.sleep(0.02)


async def _reader(url: str, until: float, report: Report) -> None:
    paths = [
        "/jobs",
        "/summary",
        "/alerts",
        "/jobs/soak_0_1/trends?period=24h",
        "/jobs?status=failed",
    ]
    async with aiohttp.ClientSession() as session:
        tick = 0
        while time.monotonic() < until:
            tick += 1
            path = "/metrics" if tick % 5 == 0 else paths[tick % len(paths)]
            async with session.get(f"{url}{path}") as response:
                await response.read()
                if response.status >= 500:
                    report.server_errors += 1
                if path == "/metrics":
                    report.scrapes += 1
                else:
                    report.queries += 1
            await asyncio.sleep(0.2)


async def _dashboard(url: str, until: float, report: Report) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{url}/events") as response,
    ):
        while time.monotonic() < until:
            try:
                line = await asyncio.wait_for(response.content.readline(), 1.0)
            except TimeoutError:
                continue
            if line.startswith(b"event:"):
                report.live_events += 1


async def _memory(server: Any, until: float, report: Report) -> None:
    started = time.monotonic()
    while time.monotonic() < until:
        report.memory.append((time.monotonic() - started, server.rss_bytes()))
        await asyncio.sleep(2)


async def _verify(url: str, report: Report) -> None:
    async with aiohttp.ClientSession() as session:
        for run_id, status in report.finished.items():
            async with session.get(f"{url}/runs/{run_id}") as response:
                found = (await response.json())["status"] if response.status == 200 else None
            if found != status:
                report.lost.append(run_id)


async def soak(server: Any, seconds: float, workers: int = 24, dashboards: int = 20) -> Report:
    report = Report(seconds)
    until = time.monotonic() + seconds
    tasks = [
        *(_job_worker(server.url, worker, until, report) for worker in range(workers)),
        _group_worker(server.url, until, report),
        *(_reader(server.url, until, report) for _ in range(2)),
        *(_dashboard(server.url, until, report) for _ in range(dashboards)),
        _memory(server, until, report),
    ]
    await asyncio.gather(*tasks)
    await _verify(server.url, report)
    return report


def summary(report: Report) -> str:
    memory = [rss for _, rss in report.memory]
    half = len(memory) // 2
    first, second = memory[:half] or memory, memory[half:] or memory
    lines = [
        f"Machine: {machine()}; {report.seconds:.0f} s of mixed load on loopback.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| pushes to /push | {report.pushes:,} ({report.pushes / report.seconds:,.0f}/s) |",
        f"| push latency p50 / p99 / max | {report.percentile(0.5):.1f} / "
        f"{report.percentile(0.99):.1f} / {report.percentile(1.0):.1f} ms |",
        f"| Pushgateway pushes | {report.group_pushes:,} |",
        f"| scrapes of /metrics, queries | {report.scrapes:,}, {report.queries:,} |",
        f"| live events received by the dashboards | {report.live_events:,} |",
        f"| runs finished and acknowledged | {len(report.finished):,} |",
        f"| acknowledged runs missing or wrong afterwards | {len(report.lost)} |",
        f"| answers 5xx | {report.server_errors} |",
        f"| answers 4xx (by status) | {report.refused or 0} |",
        f"| resident memory: median of first half / second half / max | "
        f"{statistics.median(first) / 2**20:.0f} / {statistics.median(second) / 2**20:.0f} / "
        f"{max(memory) / 2**20:.0f} MiB |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    minutes = parser.parse_args().minutes
    with batchgate("--log-level", "warning") as server:
        report = asyncio.run(soak(server, minutes * 60))
    print(summary(report))


if __name__ == "__main__":
    main()
