"""Skipping unchanged jobs never changes the outcome: over random event histories, an engine
that evaluates incrementally gives the same transitions and notifications as one that
re-evaluates everything, at the same times."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.book import AlertBook
from rules.engine import RuleEngine
from rules.kinds import Context
from rules.receivers import Router, load_receivers
from tests.rules.history import (
    FAILED,
    SUCCEEDED,
    T0,
    finish,
    mark_lost,
    new_job,
    progress,
    push,
    ruleset,
    start,
)

RULES = ruleset(
    """
    rules:
      - {name: Failed, kind: failure}
      - {name: Streak, kind: consecutive_failures, count: 2, resolve_after: 2}
      - {name: Flaky, kind: failure_rate, above: 0.3, window: 2h, min_runs: 2}
      - {name: Flaky5, kind: failure_rate, above: 0.5, over_last: 5, min_runs: 3}
      - {name: Slow, kind: duration, above: 30m, for: 5m}
      - {name: Slower, kind: duration, above_p95_factor: 1.5, over_last: 5, min_runs: 2}
      - {name: TooLong, kind: max_runtime, above: 1h}
      - name: Stuck
        kind: stuck
        no_progress_for: 10m
        severity_tiers: [{after: 10m, severity: low}, {after: 25m, severity: high}]
      - {name: Lost, kind: lost, for: 2m}
      - {name: Hot, kind: resource, metric: cpu_percent, above: 80, for: 5m}
      - name: Missed
        kind: missed
        schedule: "*/30 * * * *"
        timezone: Europe/Berlin
        grace: 5m
        severity_tiers: [{after: 5m, severity: low}, {after: 1h, severity: high}]
      - {name: NoSuccess, kind: missed, interval: 2h}
      - {name: Silent, kind: absent, absent_for: 45m}
    """
)
RECEIVERS, _ = load_receivers(
    """
    receivers:
      - {name: hook, webhook: {url: "http://h.example/"}, repeat_interval: 1h}
      - {name: am, alertmanager: {url: "http://am.example/"}, match: {severity: [high, warning]}}
    """
)
LOST_AFTER = 20 * 60.0

ACTIONS = st.sampled_from(["start", "progress", "heartbeat", "finish", "lost", "push"])
STEP = st.tuples(
    st.integers(min_value=0, max_value=40 * 60),  # seconds until this step
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),  # which job
            ACTIONS,
            st.integers(min_value=0, max_value=100),  # a value (cpu, a choice)
        ),
        max_size=4,
    ),
    st.booleans(),  # evaluate the changed jobs one by one right after their events
)


def _engine():
    return RuleEngine(
        RULES,
        book=AlertBook(router=Router(RECEIVERS)),
        context=Context(default_lost_after=LOST_AFTER),
    )


def _apply(jobs, counter, now, job_index, action, value):
    job = jobs[job_index]
    running = sorted(job.running)
    if job.kind == "pushgateway":
        if action == "push":
            push(job, now)
        return job if action == "push" else None
    if action == "start":
        counter[0] += 1
        start(job, f"r{counter[0]}", now)
    elif action in ("progress", "heartbeat") and running:
        run = job.running[running[value % len(running)]]
        if action == "progress":
            progress(job, run.run_id, now, done=(run.done or 0) + 1)
        else:
            progress(job, run.run_id, now, cpu_percent=float(value))
    elif action == "finish" and running:
        status = (SUCCEEDED, FAILED, FAILED, "cancelled")[value % 4]
        finish(job, running[value % len(running)], now, status)
    elif action == "lost" and running:
        run = job.running[running[value % len(running)]]
        if now - run.last_event_at > LOST_AFTER:
            mark_lost(job, run.run_id, now)
    else:
        return None
    return job


def _summary(evaluation):
    changes = sorted((t.kind, t.alert_id, t.alert["severity"]) for t in evaluation.transitions)
    told = sorted((n.receiver, n.reason, n.status, n.alert_id) for n in evaluation.notifications)
    return changes, told


def _in_chunks(rule_engine, jobs, now, size):
    evaluation_pass = rule_engine.start_pass(now)
    for first in range(0, len(jobs), size):
        evaluation_pass.evaluate(jobs[first : first + size])
    return evaluation_pass.finish()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=40), st.integers(min_value=1, max_value=3))
def test_incremental_evaluation_gives_the_same_transitions_as_full(steps, chunk):
    jobs = [new_job("a"), new_job("b", {"env": "prod"}), new_job("g", kind="pushgateway")]
    incremental, full = _engine(), _engine()
    counter = [0]
    now = T0
    for delay, events, evaluate_each in steps:
        now += delay
        for job_index, action, value in events:
            changed = _apply(jobs, counter, now, job_index, action, value)
            if changed is not None and evaluate_each:
                assert _summary(incremental.evaluate_job(changed, now)) == _summary(
                    full.evaluate_job(changed, now)
                )
        assert _summary(_in_chunks(incremental, jobs, now, chunk)) == _summary(
            full.evaluate(jobs, now, full=True)
        ), f"at +{now - T0:.0f}s"
        assert {a.id: a.state for a in incremental.alerts} == {a.id: a.state for a in full.alerts}


def test_an_incremental_pass_skips_unchanged_jobs():
    rules = _engine()
    jobs = [new_job(f"j{index}") for index in range(100)]
    rules.evaluate(jobs, T0)

    again = rules.evaluate(jobs, T0 + 1)

    assert (again.jobs_evaluated, again.jobs_skipped) == (0, 100)

    start(jobs[3], "r1", T0 + 2)
    assert rules.evaluate(jobs, T0 + 2).jobs_evaluated == 1
