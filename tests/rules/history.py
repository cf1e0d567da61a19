"""Building job histories for rule tests with the collector's own Job and Run classes.

These helpers change jobs as collector.core.state.State does (each change bumps `generation`;
`last_run` is the most recently started run; a run marked lost leaves `last_run` alone), so the
tests also hold the rules engine's Protocols to the collector's real model. The tests in
test_with_the_collectors_state.py drive the real State itself.
"""

from __future__ import annotations

import textwrap

from batchgate.collector.core.model import FAILED, LOST, RUNNING, SUCCEEDED, Job, JobKey, Run
from batchgate.rules.engine import RuleEngine
from batchgate.rules.errors import ConfigErrors
from batchgate.rules.facts import Readings
from batchgate.rules.ruleset import RuleSet, parse_rule_file

T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z


def ruleset(text: str) -> RuleSet:
    """Rules from YAML text; fails the test on any error."""
    rules, inhibit_rules, errors = parse_rule_file(textwrap.dedent(text), "test.yaml")
    if errors:
        raise ConfigErrors(errors)
    return RuleSet.of(rules, (), inhibit_rules)


def engine(text: str, **kwargs: object) -> RuleEngine:
    return RuleEngine(ruleset(text), **kwargs)  # type: ignore[arg-type]


def new_job(
    name: str = "etl",
    labels: dict[str, str] | None = None,
    *,
    at: float = T0,
    kind: str = "batch",
) -> Job:
    return Job(JobKey.of(name, labels), 1, at, kind=kind)


def _place(job: Job, run: Run) -> None:
    # As State._place: the last run is the one that started last.
    if job.last_run is None or (
        run is not job.last_run and run.started_at >= job.last_run.started_at
    ):
        job.last_run = run


def start(job: Job, run_id: str, at: float, *, lost_after: float | None = None) -> Run:
    run = Run(run_id, job.key, RUNNING, at, at, at, lost_after=lost_after)
    job.running[run_id] = run
    job.last_start_at = max(job.last_start_at or at, at)
    job.last_seen_at = max(job.last_seen_at or at, at)
    _place(job, run)
    job.generation += 1
    return run


def progress(
    job: Job,
    run_id: str,
    at: float,
    *,
    done: float | None = None,
    percent: float | None = None,
    cpu_percent: float | None = None,
    memory_bytes: float | None = None,
    metrics: dict[str, float] | None = None,
) -> Run:
    """A progress event (also a heartbeat): progress time moves only if done/percent moved."""
    run = job.running[run_id]
    run.last_event_at = max(run.last_event_at, at)
    readings = Readings(percent=percent, done=done, cpu_percent=cpu_percent)
    readings.memory_bytes = memory_bytes
    if run.readings.update(readings):
        run.last_progress_at = max(run.last_progress_at, at)
    if metrics:
        run.metrics.update(metrics)
    job.last_seen_at = max(job.last_seen_at or at, at)
    job.generation += 1
    return run


def finish(
    job: Job,
    run_id: str,
    at: float,
    status: str = SUCCEEDED,
    *,
    message: str | None = None,
    exit_code: int | None = None,
) -> Run:
    run = job.running.pop(run_id)
    run.status = status
    run.finished_at = max(at, run.started_at)
    run.last_event_at = max(run.last_event_at, at)
    run.message = message
    run.exit_code = exit_code
    job.record_finish(run)
    _place(job, run)
    job.last_seen_at = max(job.last_seen_at or at, at)
    job.generation += 1
    return run


def mark_lost(job: Job, run_id: str, at: float) -> Run:
    """What the collector does once a run has been silent past its lost-after: the run ends at
    its last sign of life (`at`, when it is noticed, is not recorded)."""
    run = job.running.pop(run_id)
    run.status = LOST
    run.finished_at = run.last_event_at
    job.record_finish(run)
    job.generation += 1
    return run


def run_once(
    job: Job, run_id: str, at: float, duration: float, status: str = SUCCEEDED, **kwargs: object
) -> Run:
    """A whole run: started at `at`, finished `duration` later with `status`."""
    start(job, run_id, at)
    return finish(job, run_id, at + duration, status, **kwargs)  # type: ignore[arg-type]


def push(job: Job, at: float) -> None:
    """A Pushgateway push to a group (a job of kind pushgateway)."""
    job.last_seen_at = at
    job.generation += 1


__all__ = [
    "FAILED",
    "LOST",
    "SUCCEEDED",
    "T0",
    "engine",
    "finish",
    "mark_lost",
    "new_job",
    "progress",
    "push",
    "ruleset",
    "run_once",
    "start",
    "states",
    "transitions",
]


def states(rule_engine: RuleEngine) -> dict[str, str]:
    """Active alerts as {"Rule/job" or "Rule/job/run_id": state}."""
    result = {}
    for alert in rule_engine.book.active.values():
        name = f"{alert.rule}/{alert.job[0]}" + (f"/{alert.run_id}" if alert.run_id else "")
        result[name] = alert.state
    return result


def transitions(evaluation: object) -> list[tuple[str, str]]:
    """(kind, "Rule/job[/run]") for each transition of an Evaluation."""
    result = []
    for transition in evaluation.transitions:  # type: ignore[attr-defined]
        alert = transition.alert
        name = f"{alert['rule']}/{alert['job']}" + (
            f"/{alert['run_id']}" if alert["run_id"] else ""
        )
        result.append((transition.kind, name))
    return result
