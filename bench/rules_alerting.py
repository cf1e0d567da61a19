"""Rules and alerting in the running server: evaluation passes, and push throughput with rules.

    python bench/rules_alerting.py [--jobs 10000] [--passes 100] [--seconds 10] [--rounds 3]

1. In process, the real app (create_app, SQLite in a temporary directory, the writer and the
   outbox running) with the 50 rules of bench/rules_eval.py and two receivers (unreachable:
   their deliveries back off) over 10,000 live jobs built through the collector's own State
   (32 finished runs each, ~8% running, a few stuck or silent). Timed: the first pass (every
   job matched and evaluated, ~2,000 alerts opened and written), full passes, and incremental
   passes as the server runs them every 5 s (100 jobs changed between passes, each evaluated
   at once as a push would); and, with a ticker task asking to wake every millisecond, the
   longest the event loop was held while all that ran.
2. Push throughput with wrk (bench/wrk/, as bench/push.py): a batchgate subprocess with those
   50 rules vs one with none (an empty rules file), 10,000 jobs with history and a running
   run each, one progress event per push and batches of 100; alternating, `--rounds` times.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web
from harness import Load, batchgate, machine, post_json, wrk
from rules_eval import ENVS, FAMILIES, REGIONS, rules_yaml

from batchgate.collector.alerting.settings import AlertingSettings
from batchgate.collector.core.model import Event, Job, JobKey
from batchgate.collector.core.state import State
from batchgate.collector.http.app import create_app
from batchgate.collector.http.keys import ALERTING, STATE
from batchgate.collector.settings import Settings
from batchgate.rules import load_receivers
from batchgate.rules.facts import Readings

RECEIVERS = """
receivers:
  - {name: ops, webhook: {url: "http://127.0.0.1:9/hook"}}
  - {name: am, alertmanager: {url: "http://127.0.0.1:9"}, match: {severity: [critical, high]}}
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class LoopWatch:
    """The longest the event loop went without running a task that asked to wake every ms,
    and the time spent in generation-2 garbage collections (whole-process pauses)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.gc_longest = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_longest = max(self.gc_longest, time.perf_counter() - self._gc_started)

    def reset(self) -> None:
        self.longest = self.gc_longest = 0.0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - started - 0.001)


def populate(state: State, count: int, now: float, rng: random.Random) -> list[Job]:
    """Jobs as bench/rules_eval.py builds them, made by applying events to the State."""
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        labels = {"env": rng.choice(ENVS), "region": rng.choice(REGIONS)}
        key = JobKey.of(f"{family}_{index // len(FAMILIES)}", labels)
        period = rng.choice((300.0, 900.0, 3600.0, 86400.0))
        typical = rng.lognormvariate(math.log(min(period / 4, 1800)), 0.4)
        at = now - 33 * period
        flaky = rng.random() < 0.1
        for number in range(32):
            duration = typical * rng.lognormvariate(0, 0.2)
            failed = rng.random() < (0.3 if flaky else 0.03)
            run_id = f"{key.name}-{index}-{number}"
            state.apply(Event(key, "start", at, run_id=run_id), at)
            end = "fail" if failed else "success"
            state.apply(Event(key, end, at + duration, run_id=run_id), at + duration)
            at += period
        if rng.random() < 0.08:
            started = now - rng.uniform(0, 3 * typical)
            run_id = f"{key.name}-{index}-live"
            state.apply(
                Event(key, "start", started, run_id=run_id, readings=Readings(done=0.0)), started
            )
            last = now - rng.uniform(0, 60 if rng.random() < 0.97 else 1200)
            moved = rng.random() < 0.95
            state.apply(
                Event(
                    key,
                    "progress",
                    last,
                    run_id=run_id,
                    readings=Readings(
                        done=100.0 if moved else 0.0,
                        cpu_percent=rng.uniform(0, 100),
                        memory_bytes=rng.uniform(1e8, 6e9),
                    ),
                    metrics={"rows_rejected": rng.uniform(0, 2000)},
                ),
                last,
            )
    return list(state.jobs.values())


def change(state: State, jobs: list[Job], count: int, now: float, rng: random.Random) -> list[Job]:
    """`count` jobs change as pushes would change them: progress, a run ending or starting."""
    touched = []
    for job in rng.sample(jobs, count):
        if job.running and rng.random() < 0.8:
            run = next(iter(job.running.values()))
            done = (run.readings.done or 0) + 100
            readings = Readings(done=done)
            event = Event(job.key, "progress", now, run_id=run.run_id, readings=readings)
        elif job.running:
            run = next(iter(job.running.values()))
            end = "fail" if rng.random() < 0.05 else "success"
            event = Event(job.key, end, now, run_id=run.run_id)
        else:
            event = Event(
                job.key, "start", now, run_id=f"{job.name}-{now}", readings=Readings(done=0.0)
            )
        touched.append(state.apply(event, now).job)
    return touched


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def spread(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return f"| {ms(statistics.median(ordered))} | {ms(p99)} | {ms(ordered[-1])} |"


async def evaluation(jobs_wanted: int, passes: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    receivers, errors = load_receivers(RECEIVERS)
    assert not errors
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="batchgate-bench-") as data:
        rules_file = Path(data) / "rules.yaml"
        rules_file.write_text(rules_yaml())
        clock = Clock(time.time())
        settings = Settings(
            data_dir=Path(data) / "db",
            alerting=AlertingSettings(
                rules_files=(str(rules_file),),
                receivers=tuple(receivers),
                evaluation_interval=1e6,  # this benchmark runs the passes itself
            ),
        )
        settings = replace(settings, runs=replace(settings.runs, lost_after=600.0))
        app = create_app(settings, clock=clock)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await asyncio.sleep(0.1)  # the server's own first pass, over no jobs yet
        try:
            state, alerting = app[STATE], app[ALERTING]
            started = time.perf_counter()
            jobs = populate(state, jobs_wanted, clock.now, rng)
            built = time.perf_counter() - started
            gc.collect()
            watch = LoopWatch()
            ticker = asyncio.create_task(watch.run())
            await asyncio.sleep(0.01)

            watch.reset()
            await alerting.evaluate_all(full=True)
            await asyncio.sleep(0.2)  # the writer commits the new alerts meanwhile
            first = (alerting.last_pass_seconds, alerting.longest_step, watch.longest)
            alerts = len(alerting.engine.book.active)
            pairs = sum(len(slot.rules) for slot in alerting.engine._slots.values())

            full_passes, full_cpu, full_steps = [], [], []
            for _ in range(10):
                clock.now += 5
                cpu = time.thread_time()
                await alerting.evaluate_all(full=True)
                full_cpu.append(time.thread_time() - cpu)
                full_passes.append(alerting.last_pass_seconds)
                full_steps.append(alerting.longest_step)

            incremental, incremental_cpu, steps, per_event = [], [], [], []
            watch.reset()
            for _ in range(passes):
                clock.now += 5
                for job in change(state, jobs, 100, clock.now, rng):
                    started = time.perf_counter()
                    alerting.evaluate_jobs([job], clock.now)
                    per_event.append(time.perf_counter() - started)
                    await asyncio.sleep(0)
                cpu = time.thread_time()
                await alerting.evaluate_all()
                incremental_cpu.append(time.thread_time() - cpu)
                incremental.append(alerting.last_pass_seconds)
                steps.append(alerting.longest_step)
            lag, gc_pause = watch.longest, watch.gc_longest
            ticker.cancel()
        finally:
            await runner.cleanup()

    lines.append(
        f"{len(jobs)} jobs built through the State in {built:.1f} s; "
        f"{len(alerting.engine.ruleset)} rules, {pairs} (rule, job) pairs, "
        f"{alerts} alerts after the first pass; a pass yields to the event loop every 5 ms of work."
    )
    lines.append("")
    lines.append("| measurement | p50 ms | p99 ms | max ms |")
    lines.append("| --- | ---: | ---: | ---: |")
    lines.append(
        f"| incremental pass, x{passes} (100 jobs changed between passes), CPU "
        f"{spread(incremental_cpu)}"
    )
    lines.append(f"| the same, wall clock {spread(incremental)}")
    lines.append(f"| its longest step (event loop held at once), wall clock {spread(steps)}")
    lines.append(f"| full pass, x10, CPU {spread(full_cpu)}")
    lines.append(f"| the same, wall clock {spread(full_passes)}")
    lines.append(f"| its longest step, wall clock {spread(full_steps)}")
    lines.append(f"| evaluate_jobs, one job after an event, x{len(per_event)} {spread(per_event)}")
    lines.append("")
    lines.append(
        f"First pass (matching, evaluating, {alerts} alerts opened and staged): "
        f"{ms(first[0])} ms of work, longest step {ms(first[1])} ms, event loop held at most "
        f"{ms(first[2])} ms (the writer's snapshot of the new alerts included)."
    )
    lines.append(
        f"Steady state ({passes} incremental passes and {len(per_event)} event evaluations): "
        f"the event loop was held at most {ms(lag)} ms; the longest generation-2 garbage "
        f"collection in that time took {ms(gc_pause)} ms."
    )
    return lines


def populate_server(url: str, jobs: int) -> None:
    now = time.time()
    events = []
    for index in range(jobs):
        for number in range(3):
            at = now - (3 - number) * 3600
            events.append(
                {"job": f"bench_{index}", "event": "fail" if (index + number) % 17 == 0
                 else "success", "duration_seconds": 60 + index % 600, "timestamp": at,
                 "run_id": f"hist-{index}-{number}"}
            )  # fmt: skip
        events.append({"job": f"bench_{index}", "event": "start", "run_id": f"bench-{index}"})
    for first in range(0, len(events), 1000):
        post_json(f"{url}/push", events[first : first + 1000])


def throughput(jobs: int, seconds: int, rounds: int) -> list[str]:
    results: dict[str, dict[str, list[Load]]] = {"none": {}, "50 rules": {}}
    with tempfile.TemporaryDirectory(prefix="batchgate-bench-") as directory:
        configs = {}
        for name, text in (("none", "rules: []\n"), ("50 rules", rules_yaml())):
            rules = Path(directory) / f"{name.replace(' ', '_')}.yaml"
            rules.write_text(text)
            config = Path(directory) / f"{name.replace(' ', '_')}-config.yaml"
            config.write_text(f"rules_files: [{rules}]\nevaluation_interval: 5s\n")
            configs[name] = config
        for _ in range(rounds):
            for name, config in configs.items():
                with batchgate("--config", str(config)) as server:
                    populate_server(server.url, jobs)
                    env = {"JOBS": str(jobs)}
                    single = wrk(server.url, "batchgate_progress", seconds, env=env)
                    batched = wrk(
                        server.url, "batchgate_batch", seconds, env={**env, "BATCH": "100"}
                    )
                results[name].setdefault("single", []).append(single)
                results[name].setdefault("batch", []).append(batched)
    lines = [
        "| load | rules | runs, events/s | median events/s | p99 ms (median) | ratio |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for load, per_request in (("single", 1), ("batch", 100)):
        baseline = statistics.median(r.requests_per_second for r in results["none"][load])
        for name in ("none", "50 rules"):
            loads = results[name][load]
            rates = [r.requests_per_second * per_request for r in loads]
            median = statistics.median(r.requests_per_second for r in loads)
            p99 = statistics.median(r.p99_ms for r in loads)
            errors = sum(r.errors for r in loads)
            label = "1 event per push" if per_request == 1 else "100 events per push"
            lines.append(
                f"| {label} | {name} | {', '.join(f'{rate:,.0f}' for rate in rates)} | "
                f"{median * per_request:,.0f} | {p99:.2f} | {median / baseline:.2f}x |"
                + (f" ({errors} errors)" if errors else "")
            )
    return lines


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk phase")
    parser.add_argument("--rounds", type=int, default=3, help="servers started per config")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-evaluation", action="store_true")
    arguments = parser.parse_args()
    print(f"Machine: {machine()}; {load()} before.\n")
    if not arguments.skip_evaluation:
        for line in asyncio.run(evaluation(arguments.jobs, arguments.passes, arguments.seed)):
            print(line)
        print(f"\n({load()} after the evaluation runs.)")
    if not arguments.skip_throughput:
        print(f"\nPush throughput, wrk -t1 -c16 -d{arguments.seconds}s on loopback:\n")
        for line in throughput(arguments.jobs, arguments.seconds, arguments.rounds):
            print(line)
        print(f"\n({load()} at the end.)")


if __name__ == "__main__":
    main()
