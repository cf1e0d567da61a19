"""kind: duration — a run longer than a limit, or slower than the job's own p95."""

from tests.rules.history import (
    FAILED,
    T0,
    engine,
    finish,
    new_job,
    run_once,
    start,
    states,
    transitions,
)

HOUR = 3600.0
ABSOLUTE = """
rules:
  - name: EtlTooSlow
    match: {job: "etl_*"}
    kind: duration
    above: 2h
    for: 1m
"""
RELATIVE = """
rules:
  - name: SlowerThanUsual
    kind: duration
    above_p95_factor: 2
    over_last: 20
"""


def test_a_running_run_fires_after_the_limit_plus_for():
    rules, job = engine(ABSOLUTE), new_job("etl_nightly")
    start(job, "r1", T0)

    assert transitions(rules.evaluate([job], T0 + 2 * HOUR)) == [
        ("pending", "EtlTooSlow/etl_nightly/r1")
    ]
    assert transitions(rules.evaluate([job], T0 + 2 * HOUR + 59)) == []
    assert transitions(rules.evaluate([job], T0 + 2 * HOUR + 60)) == [
        ("firing", "EtlTooSlow/etl_nightly/r1")
    ]


def test_it_does_not_apply_to_jobs_the_match_excludes():
    rules, job = engine(ABSOLUTE), new_job("backup")
    start(job, "r1", T0)

    assert transitions(rules.evaluate([job], T0 + 5 * HOUR)) == []


def test_a_slow_run_that_finishes_stays_firing_until_a_faster_run_finishes():
    rules, job = engine(ABSOLUTE), new_job("etl_nightly")
    start(job, "r1", T0)
    rules.evaluate([job], T0 + 3 * HOUR)
    finish(job, "r1", T0 + 3 * HOUR)

    assert transitions(rules.evaluate([job], T0 + 3 * HOUR)) == []
    assert states(rules) == {"EtlTooSlow/etl_nightly/r1": "firing"}

    run_once(job, "r2", T0 + 24 * HOUR, HOUR)
    assert transitions(rules.evaluate([job], T0 + 25 * HOUR)) == [
        ("resolved", "EtlTooSlow/etl_nightly/r1")
    ]


def test_a_finished_run_keeps_its_severity_and_value():
    rules, job = engine(ABSOLUTE), new_job("etl_nightly")
    run_once(job, "r1", T0, 3 * HOUR)

    rules.evaluate([job], T0 + 10 * HOUR)
    (alert,) = rules.book.active.values()

    assert alert.value == 3 * HOUR


def test_applies_to_running_ignores_finished_runs():
    rules = engine(
        """
        rules:
          - {name: Slow, kind: duration, above: 2h, applies_to: running}
        """
    )
    job = new_job("etl")
    run_once(job, "r1", T0, 3 * HOUR)

    assert transitions(rules.evaluate([job], T0 + 3 * HOUR)) == []


def _history(job, durations, status="succeeded"):
    at = T0
    for index, duration in enumerate(durations):
        run_once(job, f"h{index}", at, duration, status)
        at += 24 * HOUR
    return at


def test_slower_than_usual_compares_with_the_p95_of_recent_successful_runs():
    rules, job = engine(RELATIVE), new_job("etl")
    at = _history(job, [600.0] * 19 + [900.0])  # p95 of 20 runs: 600 (nearest rank 19)
    start(job, "now", at)

    assert transitions(rules.evaluate([job], at + 1199)) == []
    assert transitions(rules.evaluate([job], at + 1200)) == [("firing", "SlowerThanUsual/etl/now")]


def test_failed_runs_are_not_part_of_the_baseline():
    rules, job = engine(RELATIVE), new_job("etl")
    at = _history(job, [600.0] * 10)
    at = _history(job, [10.0] * 10, FAILED) + at - T0
    start(job, "now", at)

    assert transitions(rules.evaluate([job], at + 1199)) == []


def test_without_enough_history_there_is_no_verdict():
    rules, job = engine(RELATIVE), new_job("etl")
    at = _history(job, [60.0] * 4)  # min_runs defaults to 5
    start(job, "now", at)

    assert transitions(rules.evaluate([job], at + 100 * HOUR)) == []


def test_the_last_finished_run_is_judged_against_the_runs_before_it():
    rules, job = engine(RELATIVE), new_job("etl")
    at = _history(job, [600.0] * 10)
    run_once(job, "slow", at, 1300)

    assert transitions(rules.evaluate([job], at + 1300)) == [("firing", "SlowerThanUsual/etl/slow")]
