"""The rules engine on jobs changed by the collector's own State, as the server will run it."""

from batchgate.collector.core.model import Event, JobKey
from batchgate.collector.core.state import State, StateSettings
from batchgate.rules.engine import RuleEngine
from batchgate.rules.facts import Readings
from batchgate.rules.kinds import Context
from tests.rules.history import T0, ruleset, states, transitions

RULES = ruleset(
    """
    rules:
      - name: JobFailed
        kind: failure
        statuses: [failed]
        annotations: {summary: "{{ job }} failed ({{ run.exit_code }}): {{ run.message }}"}
      - {name: JobLost, kind: lost}
      - {name: JobStuck, kind: stuck, no_progress_for: 10m}
      - {name: TooSlow, kind: duration, above: 1h}
    """
)
LOST_AFTER = 900.0
KEY = JobKey.of("etl", {"env": "prod"})


def _setup():
    state = State(StateSettings(lost_after=LOST_AFTER))
    engine = RuleEngine(RULES, context=Context(default_lost_after=LOST_AFTER))
    return state, engine


def _push(state, engine, event_type, at, run_id, **fields):
    readings = {name: fields.pop(name) for name in Readings.FIELDS if name in fields}
    event = Event(KEY, event_type, at, run_id=run_id, readings=Readings(**readings), **fields)
    change = state.apply(event, at)
    return engine.evaluate_job(change.job, at)


def test_a_failure_alerts_on_the_event_with_the_runs_message():
    state, engine = _setup()
    _push(state, engine, "start", T0, "r1")

    evaluation = _push(state, engine, "fail", T0 + 60, "r1", message="disk full", exit_code=2)

    assert transitions(evaluation) == [("firing", "JobFailed/etl")]
    (alert,) = engine.book.active.values()
    assert alert.annotations == {"summary": "etl failed (2): disk full"}
    assert alert.labels["env"] == "prod"


def test_the_failures_message_survives_a_new_run_starting_before_it_fires():
    state, engine = _setup()
    _push(state, engine, "start", T0, "r1")
    state.apply(Event(KEY, "fail", T0 + 60, run_id="r1", message="disk full"), T0 + 60)
    state.apply(Event(KEY, "start", T0 + 61, run_id="r2"), T0 + 61)

    engine.evaluate(state.jobs.values(), T0 + 62)

    (alert,) = engine.book.active.values()
    assert alert.annotations["summary"].startswith("etl failed")


def test_a_run_marked_lost_keeps_the_alert_and_its_return_resolves_it():
    state, engine = _setup()
    _push(state, engine, "start", T0, "r1")
    engine.evaluate(state.jobs.values(), T0 + LOST_AFTER + 1)
    assert states(engine) == {"JobLost/etl": "firing"}

    for job, run in list(state.lost_runs(T0 + LOST_AFTER + 5)):
        state.mark_lost(job, run)
    assert transitions(engine.evaluate(state.jobs.values(), T0 + LOST_AFTER + 5)) == []

    evaluation = _push(state, engine, "progress", T0 + LOST_AFTER + 60, "r1", done=5)
    assert transitions(evaluation) == [("resolved", "JobLost/etl")]


def test_a_slow_finished_run_stays_firing_while_the_next_run_runs():
    state, engine = _setup()
    _push(state, engine, "start", T0, "r1")
    _push(state, engine, "success", T0 + 7200, "r1")
    assert states(engine) == {"TooSlow/etl/r1": "firing"}

    _push(state, engine, "start", T0 + 86400, "r2")
    assert states(engine) == {"TooSlow/etl/r1": "firing"}

    evaluation = _push(state, engine, "success", T0 + 86400 + 600, "r2")
    assert transitions(evaluation) == [("resolved", "TooSlow/etl/r1")]


def test_stuck_follows_progress_events():
    state, engine = _setup()
    _push(state, engine, "start", T0, "r1")
    _push(state, engine, "progress", T0 + 60, "r1", done=10)
    for minute in range(2, 11):
        _push(state, engine, "progress", T0 + minute * 60, "r1", cpu_percent=50)

    assert transitions(engine.evaluate(state.jobs.values(), T0 + 660)) == [
        ("firing", "JobStuck/etl/r1")
    ]
    evaluation = _push(state, engine, "progress", T0 + 700, "r1", done=11)
    assert transitions(evaluation) == [("resolved", "JobStuck/etl/r1")]


def test_a_lost_run_that_reports_again_is_no_longer_a_failure():
    state = State(StateSettings(lost_after=LOST_AFTER))
    engine = RuleEngine(
        ruleset("rules:\n  - {name: AnyFailure, kind: failure}\n"),
        context=Context(default_lost_after=LOST_AFTER),
    )
    _push(state, engine, "start", T0, "r1")
    for job, run in list(state.lost_runs(T0 + LOST_AFTER + 5)):
        state.mark_lost(job, run)
    engine.evaluate(state.jobs.values(), T0 + LOST_AFTER + 5)
    assert states(engine) == {"AnyFailure/etl": "firing"}

    evaluation = _push(state, engine, "progress", T0 + LOST_AFTER + 60, "r1", done=1)

    assert transitions(evaluation) == [("resolved", "AnyFailure/etl")]
