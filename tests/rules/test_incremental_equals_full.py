"""Skipping unchanged jobs never changes the outcome: over random event histories applied by the
collector's own State, an engine that evaluates incrementally (in chunks, and job by job after
events) gives the same transitions and notifications as one that re-evaluates everything, at
the same times; and so does one given only what the State's change log says changed (a pass
of changes, as the server runs it)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchgate.collector.core.model import Event, JobKey
from batchgate.collector.core.state import State, StateSettings
from batchgate.rules.book import AlertBook
from batchgate.rules.engine import RuleEngine
from batchgate.rules.facts import Readings
from batchgate.rules.kinds import Context
from batchgate.rules.receivers import Router, load_receivers
from tests.rules.history import T0, new_job, progress, push, ruleset, start

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

ACTIONS = st.sampled_from(["start", "progress", "heartbeat", "finish", "lost", "push", "delete"])
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


KEYS = (JobKey.of("a"), JobKey.of("b", {"env": "prod"}))
EVENT_OF = {"finish": ("success", "fail", "fail", "cancel")}


def _apply(state, group, counter, now, job_index, action, value):
    """Apply one action through the collector's State (or push to the Pushgateway group);
    returns the job it changed, if any."""
    if job_index == 2:
        if action != "push":
            return None
        push(group, now)
        return group
    key = KEYS[job_index]
    if action == "delete":
        if value % 4 == 0:  # now and then: a deleted job loses its alerts
            state.delete_jobs(key.name, key)
        return None
    job = state.jobs.get(key)
    running = sorted(job.running) if job is not None else []
    if action == "start":
        counter[0] += 1
        event = Event(key, "start", now, run_id=f"r{counter[0]}")
    elif action == "progress" and running:
        run = job.running[running[value % len(running)]]
        done = (run.readings.done or 0) + 1
        event = Event(key, "progress", now, run_id=run.run_id, readings=Readings(done=done))
    elif action == "heartbeat" and running:
        run_id = running[value % len(running)]
        readings = Readings(cpu_percent=float(value))
        event = Event(key, "progress", now, run_id=run_id, readings=readings)
    elif action == "finish" and running:
        kind = EVENT_OF["finish"][value % 4]
        event = Event(key, kind, now, run_id=running[value % len(running)])
    elif action == "lost":
        lost = list(state.lost_runs(now))
        for lost_job, run in lost:
            state.mark_lost(lost_job, run)
        return lost[0][0] if lost else None
    else:
        return None
    assert not state.conflicts([event])
    return state.apply(event, now).job


def _summary(evaluation):
    changes = sorted((t.kind, t.alert_id, t.alert["severity"]) for t in evaluation.transitions)
    told = sorted((n.receiver, n.reason, n.status, n.alert_id) for n in evaluation.notifications)
    return changes, told


def _in_chunks(rule_engine, jobs, now, size):
    evaluation_pass = rule_engine.start_pass(now)
    for first in range(0, len(jobs), size):
        evaluation_pass.evaluate(jobs[first : first + size])
    return evaluation_pass.finish()


def _changes_in_chunks(rule_engine, taken, now, size):
    """A pass of changes, as the server runs it: what changed, what was deleted, what is due."""
    if rule_engine.needs_every_job:
        return None
    evaluation_pass = rule_engine.start_pass(now, changes=True)
    evaluation_pass.forget(key for key, job in taken.items() if job is None)
    changed = [job for job in taken.values() if job is not None]
    for first in range(0, len(changed), size):
        evaluation_pass.evaluate(changed[first : first + size])
    while evaluation_pass.evaluate_due(size) == size:
        pass
    return evaluation_pass.finish()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=40), st.integers(min_value=1, max_value=3))
def test_incremental_evaluation_gives_the_same_transitions_as_full(steps, chunk):
    state = State(StateSettings(lost_after=LOST_AFTER))
    state.changes.watch()
    group = new_job("g", kind="pushgateway")
    incremental, full, of_changes = _engine(), _engine(), _engine()
    counter = [0]
    now = T0
    for delay, events, evaluate_each in steps:
        now += delay
        for job_index, action, value in events:
            changed = _apply(state, group, counter, now, job_index, action, value)
            if changed is group:
                state.changes.changed(group.key, group)  # the group is not in this State
            if changed is not None and evaluate_each:
                expected = _summary(full.evaluate_job(changed, now))
                assert _summary(incremental.evaluate_job(changed, now)) == expected
                assert _summary(of_changes.evaluate_job(changed, now)) == expected
        jobs = [*state.jobs.values(), group]
        taken = state.changes.take()
        expected = _summary(full.evaluate(jobs, now, full=True))
        assert _summary(_in_chunks(incremental, jobs, now, chunk)) == expected, f"+{now - T0}s"
        by_changes = _changes_in_chunks(of_changes, taken, now, chunk)
        if by_changes is None:  # its first pass must see every job
            by_changes = _in_chunks(of_changes, jobs, now, chunk)
        assert _summary(by_changes) == expected, f"changes only, at +{now - T0:.0f}s"
        alerts = {a.id: a.state for a in full.alerts}
        assert {a.id: a.state for a in incremental.alerts} == alerts
        assert {a.id: a.state for a in of_changes.alerts} == alerts


def test_an_incremental_pass_skips_unchanged_jobs():
    rules = _engine()
    jobs = [new_job(f"j{index}") for index in range(100)]
    rules.evaluate(jobs, T0)

    again = rules.evaluate(jobs, T0 + 1)

    assert (again.jobs_evaluated, again.jobs_skipped) == (0, 100)

    start(jobs[3], "r1", T0 + 2)
    assert rules.evaluate(jobs, T0 + 2).jobs_evaluated == 1


def test_a_pass_of_changes_evaluates_only_the_changed_and_the_due_jobs():
    rules = RuleEngine(ruleset("rules: [{name: Stuck, kind: stuck, no_progress_for: 10m}]"))
    jobs = [new_job(f"j{index}") for index in range(100)]
    rules.evaluate(jobs, T0)
    start(jobs[3], "r1", T0 + 1)
    progress(jobs[3], "r1", T0 + 2, done=1)

    evaluation_pass = rules.start_pass(T0 + 2, changes=True)
    evaluation_pass.evaluate([jobs[3]])
    assert evaluation_pass.evaluate_due(1000) == 0
    assert evaluation_pass.finish().jobs_evaluated == 1

    # Its run is stuck after 10 minutes without progress: due then, though nothing changed.
    evaluation_pass = rules.start_pass(T0 + 2 + 11 * 60, changes=True)
    assert evaluation_pass.evaluate_due(1000) == 1
    evaluation = evaluation_pass.finish()
    assert [t.alert["rule"] for t in evaluation.transitions] == ["Stuck"]
