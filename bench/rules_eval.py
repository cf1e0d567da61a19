"""Benchmark: one rules evaluation pass over 10,000 live jobs with 50 rules.

    python bench/rules_eval.py [--jobs 10000] [--repeats 200] [--seed 1]

Builds jobs with realistic histories (32 finished runs each, ~8% running, a few stuck or
lost, 10% Pushgateway groups) as plain objects satisfying rules.facts, 50 rules of every kind
with a mix of match patterns, and two receivers. Then it times, in one process:

- the first pass (every job matched against every rule, then evaluated);
- a full pass (`full=True`: every (rule, job) pair evaluated);
- an incremental pass, the steady state: time moves 5 s per pass and 100 jobs change between
  passes (20 events/s), applied outside the timed section. The server's pass is a pass of
  changes (given the changed jobs; it finds the due ones in a heap); a scan pass (given every
  job, skipping the unchanged) is timed too, in alternate passes;
- `evaluate_job`, one job right after an event.

It prints p50 / p99 / max per measurement. The issue's target: one pass under 50 ms; issue
21's, with half the rules of its new kinds: an incremental pass under 10 ms.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batchgate.rules.alerts import Evaluation
from batchgate.rules.book import AlertBook
from batchgate.rules.engine import RuleEngine
from batchgate.rules.facts import Readings
from batchgate.rules.kinds import Context
from batchgate.rules.receivers import Router, load_receivers
from batchgate.rules.ruleset import RuleSet, parse_rule_file

NOW = 1_714_521_600.0
LOST_AFTER = 600.0


@dataclass(slots=True, eq=False)
class BenchRun:
    run_id: str
    status: str
    started_at: float
    last_event_at: float
    last_progress_at: float
    finished_at: float | None = None
    readings: Readings = field(default_factory=Readings)
    metrics: dict[str, float] = field(default_factory=dict)
    lost_after: float | None = None
    message: str | None = None
    exit_code: int | None = None

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(slots=True, frozen=True)
class BenchSummary:
    run_id: str
    status: str
    started_at: float
    finished_at: float | None
    duration: float | None


@dataclass(slots=True, eq=False)
class BenchJob:
    key: tuple[str, tuple[tuple[str, str], ...]]
    kind: str
    created_at: float
    running: dict[str, BenchRun] = field(default_factory=dict)
    last_run: BenchRun | None = None
    last_finished: BenchRun | None = None
    recent: deque[BenchSummary] = field(default_factory=lambda: deque(maxlen=32))
    last_seen_at: float | None = None
    last_start_at: float | None = None
    last_success_at: float | None = None
    generation: int = 0

    @property
    def name(self) -> str:
        return self.key[0]

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        return self.key[1]


FAMILIES = ("etl", "backup", "report", "sync", "ingest", "cleanup", "billing", "ml_train")
ENVS = ("prod", "prod", "prod", "staging", "dev")
REGIONS = ("eu-west", "eu-north", "us-east", "ap-south")


def build_jobs(count: int, rng: random.Random) -> list[BenchJob]:
    jobs = []
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        labels = (("env", rng.choice(ENVS)), ("region", rng.choice(REGIONS)))
        pushgateway = index % 10 == 9
        key = (f"{family}_{index // len(FAMILIES)}", labels)
        job = BenchJob(key, "pushgateway" if pushgateway else "batch", NOW - 40 * 86400)
        if pushgateway:
            job.last_seen_at = NOW - rng.uniform(0, 7200)
            jobs.append(job)
            continue
        period = rng.choice((300.0, 900.0, 3600.0, 86400.0))
        typical = rng.lognormvariate(math.log(min(period / 4, 1800)), 0.4)
        at = NOW - 33 * period
        flaky = rng.random() < 0.1
        for number in range(32):
            duration = typical * rng.lognormvariate(0, 0.2)
            failed = rng.random() < (0.3 if flaky else 0.03)
            status = "failed" if failed else "succeeded"
            run = BenchRun(f"{key[0]}-{number}", status, at, at + duration, at + duration)
            run.finished_at = at + duration
            run.readings.done = rng.choice((0.0, 1000.0, 50_000.0))
            job.recent.append(BenchSummary(run.run_id, status, at, at + duration, duration))
            job.last_run = job.last_finished = run
            job.last_start_at = at
            if status == "succeeded":
                job.last_success_at = at + duration
            job.last_seen_at = at + duration
            at += period
        if rng.random() < 0.08:
            started = NOW - rng.uniform(0, 3 * typical)
            run = BenchRun(f"{key[0]}-live", "running", started, started, started)
            run.readings.done = 0.0
            run.last_event_at = NOW - rng.uniform(0, 60 if rng.random() < 0.97 else 1200)
            run.last_progress_at = run.last_event_at - (0 if rng.random() < 0.95 else 1200)
            run.readings.cpu_percent = rng.uniform(0, 100)
            run.readings.memory_bytes = rng.uniform(1e8, 6e9)
            run.metrics = {"rows_rejected": rng.uniform(0, 2000)}
            job.running[run.run_id] = run
            job.last_start_at = started
            job.last_seen_at = run.last_event_at
        jobs.append(job)
    return jobs


def rules_yaml() -> str:
    """50 rules, half of them of the kinds issue 21 added (outcome, deadline, off_schedule)
    with two inhibit rules; the others of every earlier kind; matching all jobs, a family, a
    label, or a regex."""
    lines = ["rules:"]
    lines += [
        "  - {name: JobFailed, kind: failure, statuses: [failed]}",
        "  - {name: JobStuck, kind: stuck, no_progress_for: 15m}",
        "  - {name: JobLost, kind: lost}",
        "  - {name: MemoryHog, kind: resource, metric: memory_bytes, above: 4GiB, for: 5m}",
        "  - {name: GroupSilent, kind: absent, absent_for: 3h, match: {job_kind: pushgateway}}",
        "  - {name: SlowerThanUsual, kind: duration, above_p95_factor: 2, over_last: 20}",
        "  - name: StuckTiers",
        "    kind: stuck",
        "    no_progress_for: 10m",
        "    match: {labels: {env: prod}}",
        "    severity_tiers: [{after: 10m, severity: low}, {after: 30m, severity: medium},"
        " {after: 1h, severity: high}, {after: 2h, severity: critical}]",
        "  - {name: NightlyMissed, kind: missed, schedule: '0 2 * * *',"
        " timezone: Europe/Berlin, grace: 30m, match: {job: 'backup_*'}}",
        "  - {name: HourlyMissed, kind: missed, schedule: '0 * * * *', grace: 10m,"
        " match: {job: 'sync_*', labels: {env: prod}}}",
        "  - {name: NoRecords, kind: outcome, done: {below: 1}, match: {labels: {env: prod}}}",
    ]
    for family in FAMILIES:
        lines += [
            f"  - {{name: {family}_Flaky, kind: failure_rate, above: 20%, window: 1d,"
            f" min_runs: 5, match: {{job: '{family}_*'}}}}",
            f"  - {{name: {family}_Streak, kind: consecutive_failures, count: 3,"
            f" resolve_after: 2, match: {{job: '{family}_*', labels: {{env: prod}}}}}}",
            f"  - {{name: {family}_TooFast, kind: outcome, duration: {{below: 1s}},"
            f" errors: {{above: 10}}, match: {{job: '{family}_*'}}}}",
            f"  - {{name: {family}_Deadline, kind: deadline, schedule: '0 3 * * *',"
            f" timezone: Europe/Berlin, finish_within: 4h,"
            f" match: {{job: 're:{family}_[0-9]+', labels: {{region: [eu-west, eu-north]}}}}}}",
            # Every minute, so that the bench's runs, started at any second, are on schedule:
            # it measures the judging, not alerts opened for most new runs.
            f"  - {{name: {family}_OffSchedule, kind: off_schedule, schedule: '* * * * *',"
            f" grace: 30s, match: {{job: '{family}_*', labels: {{env: prod}}}}}}",
        ]
    lines += [
        "inhibit_rules:",
        "  - source_matchers: ['alertname=\"GroupSilent\"']",
        "    target_matchers: ['alertname=~\".*_Deadline|JobFailed\"']",
        "    equal: [env, region]",
        "  - source_matchers: ['severity=\"critical\"']",
        "    target_matchers: ['severity=~\"low|medium\"']",
        "    equal: [job]",
    ]
    return "\n".join(lines) + "\n"


def previous_rules_yaml() -> str:
    """The 50 rules before issue 21: every earlier kind, for an A/B with `--previous-rules`."""
    lines = ["rules:"]
    lines += [
        "  - {name: JobFailed, kind: failure, statuses: [failed]}",
        "  - {name: JobStuck, kind: stuck, no_progress_for: 15m}",
        "  - {name: JobLost, kind: lost}",
        "  - {name: MemoryHog, kind: resource, metric: memory_bytes, above: 4GiB, for: 5m}",
        "  - {name: GroupSilent, kind: absent, absent_for: 3h, match: {job_kind: pushgateway}}",
        "  - {name: SlowerThanUsual, kind: duration, above_p95_factor: 2, over_last: 20}",
        "  - name: StuckTiers",
        "    kind: stuck",
        "    no_progress_for: 10m",
        "    match: {labels: {env: prod}}",
        "    severity_tiers: [{after: 10m, severity: low}, {after: 30m, severity: medium},"
        " {after: 1h, severity: high}, {after: 2h, severity: critical}]",
        "    annotations: {summary: '{{ job }} stuck for {{ value | duration }}'}",
    ]
    for family in FAMILIES:
        lines += [
            f"  - {{name: {family}_Flaky, kind: failure_rate, above: 20%, window: 1d,"
            f" min_runs: 5, match: {{job: '{family}_*'}}}}",
            f"  - {{name: {family}_Streak, kind: consecutive_failures, count: 3,"
            f" resolve_after: 2, match: {{job: '{family}_*', labels: {{env: prod}}}}}}",
            f"  - {{name: {family}_TooLong, kind: max_runtime, above: 2h,"
            f" match: {{job: 're:{family}_[0-9]+'}}}}",
            f"  - {{name: {family}_Slow, kind: duration, above: 1h, for: 1m,"
            f" match: {{job: '{family}_*', labels: {{region: [eu-west, eu-north]}}}}}}",
            f"  - {{name: {family}_Hot, kind: resource, metric: cpu_percent, above: 95,"
            f" for: 5m, match: {{job: '{family}_*'}}}}",
        ]
    lines += [
        "  - {name: NightlyMissed, kind: missed, schedule: '0 2 * * *',"
        " timezone: Europe/Berlin, grace: 30m, match: {job: 'backup_*'}}",
        "  - {name: HourlyMissed, kind: missed, schedule: '0 * * * *', grace: 10m,"
        " match: {job: 'sync_*', labels: {env: prod}}}",
        "  - {name: NoRecentSuccess, kind: missed, interval: 2d, match: {job: 'report_*'}}",
    ]
    return "\n".join(lines) + "\n"


def build_rules(previous: bool = False) -> RuleSet:
    text = previous_rules_yaml() if previous else rules_yaml()
    rules, inhibit_rules, errors = parse_rule_file(text, "bench.yaml")
    assert not errors, errors
    assert len(rules) == 50, len(rules)
    return RuleSet.of(rules, (), inhibit_rules)


RECEIVERS = """
receivers:
  - {name: ops, webhook: {url: "http://127.0.0.1:8080/hook"}}
  - {name: am, alertmanager: {url: "http://127.0.0.1:9093"}, match: {severity: [critical, high]}}
"""


def apply_events(
    jobs: list[BenchJob], count: int, now: float, rng: random.Random
) -> list[BenchJob]:
    """`count` jobs change: progress on a running run, or a run finishes, or one starts.
    Returns them."""
    changed = rng.sample(jobs, count)
    for job in changed:
        if job.kind == "pushgateway":
            job.last_seen_at = now
        elif job.running and rng.random() < 0.8:
            run = next(iter(job.running.values()))
            run.last_event_at = run.last_progress_at = now
            run.readings.done = (run.readings.done or 0) + 100
        elif job.running:
            run_id, run = next(iter(job.running.items()))
            del job.running[run_id]
            run.status = "failed" if rng.random() < 0.05 else "succeeded"
            run.finished_at = now
            summary = BenchSummary(run_id, run.status, run.started_at, now, run.duration)
            job.recent.append(summary)
            job.last_run = job.last_finished = run
            job.last_seen_at = now
        else:
            run = BenchRun(f"{job.name}-{now}", "running", now, now, now, Readings(done=0.0))
            job.running[run.run_id] = run
            job.last_start_at = job.last_seen_at = now
        job.generation += 1
    return changed


class GcWatch:
    """Time spent in the garbage collector's generation-2 collections (whole-heap pauses that
    hit whatever code runs then), so the figures can tell them apart from rules work."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


def timed(watch: GcWatch, call: Callable[[], object]) -> tuple[float, float]:
    """(seconds, of which seconds in generation-2 garbage collection)."""
    before = watch.total
    started = time.perf_counter()
    call()
    return time.perf_counter() - started, watch.total - before


def chunked_pass(
    watch: GcWatch, engine: RuleEngine, jobs: list[BenchJob], now: float, size: int
) -> list[tuple[float, float]]:
    """A full pass in chunks of `size` jobs, as the server runs it (yielding to the event loop
    between steps): per step, (seconds, of which seconds in generation-2 GC). The last step is
    `finish()`."""
    evaluation_pass = engine.start_pass(now, full=True)
    starts = range(0, len(jobs), size)
    times = [
        timed(watch, lambda first=first: evaluation_pass.evaluate(jobs[first : first + size]))
        for first in starts
    ]
    times.append(timed(watch, evaluation_pass.finish))
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return f"p50 {ms(statistics.median(ordered))}   p99 {ms(p99)}   max {ms(ordered[-1])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--events", type=int, default=100, help="jobs changed between passes")
    parser.add_argument("--chunk", type=int, default=500, help="jobs per chunk of a full pass")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--previous-rules", action="store_true", help="the 50 rules of every earlier kind"
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the jobs are built, as a server could after loading its state",
    )
    arguments = parser.parse_args()
    rng = random.Random(arguments.seed)

    jobs = build_jobs(arguments.jobs, rng)
    rules = build_rules(arguments.previous_rules)
    receivers, errors = load_receivers(RECEIVERS)
    assert not errors
    context = Context(default_lost_after=LOST_AFTER)

    def fresh_engine() -> RuleEngine:
        return RuleEngine(rules, book=AlertBook(router=Router(receivers)), context=context)

    gc.collect()
    if arguments.gc_freeze:
        gc.freeze()
    watch = GcWatch()
    cold = fresh_engine()
    first_pass, _ = timed(watch, lambda: cold.evaluate(jobs, NOW))
    first_chunks = chunked_pass(watch, fresh_engine(), jobs, NOW, arguments.chunk)
    engine = cold
    pairs = sum(len(slot.rules) for slot in engine._slots.values())
    active = len(engine.book.active)

    now = NOW
    full: list[float] = []
    chunks: list[tuple[float, float]] = []
    for _ in range(max(10, arguments.repeats // 10)):
        now += 5
        full.append(timed(watch, lambda at=now: engine.evaluate(jobs, at, full=True))[0])
        now += 5
        chunks += chunked_pass(watch, engine, jobs, now, arguments.chunk)

    def of_changes(changed: list[BenchJob], at: float) -> Evaluation:
        evaluation_pass = engine.start_pass(at, changes=True)
        evaluation_pass.evaluate(changed)
        while evaluation_pass.evaluate_due(500) == 500:
            pass
        return evaluation_pass.finish()

    incremental: list[float] = []
    without_gc: list[float] = []
    evaluated: list[int] = []
    scans: list[float] = []
    scanned: list[int] = []
    for repeat in range(2 * arguments.repeats):
        now += 5
        changed = apply_events(jobs, arguments.events, now, rng)
        result: list[Evaluation] = []
        if repeat % 2:
            seconds, in_gc = timed(
                watch, lambda at=now, into=result: into.append(engine.evaluate(jobs, at))
            )
            scans.append(seconds)
            scanned.append(result[0].jobs_evaluated)
            continue
        seconds, in_gc = timed(
            watch,
            lambda at=now, into=result, jobs=changed: into.append(of_changes(jobs, at)),
        )
        incremental.append(seconds)
        without_gc.append(seconds - in_gc)
        evaluated.append(result[0].jobs_evaluated)

    single: list[float] = []
    for _ in range(arguments.repeats):
        now += 0.05
        apply_events(jobs, 1, now, rng)
        job = jobs[rng.randrange(len(jobs))]
        single.append(timed(watch, lambda one=job, at=now: engine.evaluate_job(one, at))[0])

    print(
        f"python {sys.version.split()[0]}, {arguments.jobs} jobs, {len(rules)} rules, "
        f"{pairs} (rule, job) pairs, {active} alerts after the first pass"
    )
    print(f"first pass, one call           {ms(first_pass)}")
    worst = max(first_chunks)
    without_gc_first = max(seconds - in_gc for seconds, in_gc in first_chunks)
    print(
        f"first pass, chunks of {arguments.chunk:<5}    max step  {ms(worst[0])}"
        f"   (less gen-2 GC: {ms(without_gc_first).strip()})"
    )
    print(f"full pass, one call      x{len(full):<4} {percentiles(full)}")
    print(
        f"full pass, chunks of {arguments.chunk:<5} x{len(chunks):<4}"
        f" {percentiles([t for t, _ in chunks])}"
    )
    print(
        f"incremental pass         x{len(incremental):<4} {percentiles(incremental)}"
        f"   ({statistics.mean(evaluated):.0f} jobs evaluated, {arguments.events} changed)"
    )
    print(f"  the same, less gen-2 GC        {percentiles(without_gc)}")
    print(
        f"  a scan pass instead    x{len(scans):<4} {percentiles(scans)}"
        f"   ({statistics.mean(scanned):.0f} jobs evaluated)"
    )
    print(f"evaluate_job             x{len(single):<4} {percentiles(single)}")
    print(f"generation-2 GC pauses in all timed sections: {ms(watch.total)}")


if __name__ == "__main__":
    main()
