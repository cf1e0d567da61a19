"""kind: failure — the last finished run failed; resolves on the next success."""

from tests.rules.history import FAILED, LOST, T0, engine, new_job, run_once, states, transitions

RULES = """
rules:
  - name: JobFailed
    kind: failure
    annotations: {summary: "{{ job }} failed: {{ run.message }}"}
"""


def test_it_fires_when_the_last_run_failed():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED, message="disk full")

    evaluation = rules.evaluate([job], T0 + 61)

    assert transitions(evaluation) == [("firing", "JobFailed/etl")]
    alert = rules.book.active[evaluation.transitions[0].alert_id]
    assert alert.annotations == {"summary": "etl failed: disk full"}
    assert alert.labels == {"alertname": "JobFailed", "job": "etl", "severity": "warning"}


def test_it_does_not_fire_on_success():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60)

    assert transitions(rules.evaluate([job], T0 + 61)) == []


def test_it_resolves_on_the_next_success():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 61)

    run_once(job, "r2", T0 + 100, 60)
    evaluation = rules.evaluate([job], T0 + 161)

    assert transitions(evaluation) == [("resolved", "JobFailed/etl")]
    assert states(rules) == {}


def test_a_second_failure_keeps_the_same_alert():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    first = rules.evaluate([job], T0 + 61).transitions[0]

    run_once(job, "r2", T0 + 100, 60, FAILED)
    evaluation = rules.evaluate([job], T0 + 161)

    assert transitions(evaluation) == []
    assert rules.book.active[first.alert_id].value == 2


def test_a_cancelled_run_neither_resolves_nor_fires():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 61)

    run_once(job, "r2", T0 + 100, 60, "cancelled")

    assert transitions(rules.evaluate([job], T0 + 161)) == []
    assert states(rules) == {"JobFailed/etl": "firing"}


def test_lost_runs_count_as_failures_unless_statuses_says_otherwise():
    only_failed = engine(
        """
        rules:
          - {name: JobFailed, kind: failure, statuses: [failed]}
        """
    )
    default = engine(RULES)
    job = new_job("etl")
    run_once(job, "r1", T0, 60, LOST)

    default.evaluate([job], T0 + 61)
    only_failed.evaluate([job], T0 + 61)

    assert states(default) == {"JobFailed/etl": "firing"}
    assert states(only_failed) == {}


def test_it_alerts_within_the_same_call_when_evaluating_one_job_after_an_event():
    rules, job = engine(RULES), new_job("etl")
    rules.evaluate([job], T0)
    run_once(job, "r1", T0, 60, FAILED)

    evaluation = rules.evaluate_job(job, T0 + 60)

    assert transitions(evaluation) == [("firing", "JobFailed/etl")]
