"""kind: stuck — a running run whose progress has not moved for T."""

from tests.rules.history import T0, engine, finish, new_job, progress, start, states, transitions

RULES = """
rules:
  - name: Stuck
    kind: stuck
    no_progress_for: 10m
"""
MINUTE = 60.0


def _reporting_run(job):
    start(job, "r1", T0, lost_after=3600)
    progress(job, "r1", T0 + MINUTE, done=10)


def test_it_fires_once_progress_has_not_moved_for_the_threshold():
    rules, job = engine(RULES), new_job("etl")
    _reporting_run(job)

    assert transitions(rules.evaluate([job], T0 + 11 * MINUTE - 1)) == []
    evaluation = rules.evaluate([job], T0 + 11 * MINUTE)

    assert transitions(evaluation) == [("firing", "Stuck/etl/r1")]
    (alert,) = rules.book.active.values()
    assert alert.labels["run_id"] == "r1"
    assert alert.value == 10 * MINUTE


def test_heartbeats_without_progress_do_not_prevent_it():
    rules, job = engine(RULES), new_job("etl")
    _reporting_run(job)
    for minute in range(2, 12):
        progress(job, "r1", T0 + minute * MINUTE, cpu_percent=50)

    assert transitions(rules.evaluate([job], T0 + 11 * MINUTE)) == [("firing", "Stuck/etl/r1")]


def test_it_resolves_when_progress_moves_again():
    rules, job = engine(RULES), new_job("etl")
    _reporting_run(job)
    rules.evaluate([job], T0 + 20 * MINUTE)

    progress(job, "r1", T0 + 21 * MINUTE, done=11)

    assert transitions(rules.evaluate([job], T0 + 21 * MINUTE)) == [("resolved", "Stuck/etl/r1")]


def test_it_resolves_when_the_run_finishes():
    rules, job = engine(RULES), new_job("etl")
    _reporting_run(job)
    rules.evaluate([job], T0 + 20 * MINUTE)

    finish(job, "r1", T0 + 21 * MINUTE)

    assert transitions(rules.evaluate([job], T0 + 21 * MINUTE)) == [("resolved", "Stuck/etl/r1")]


def test_each_run_is_its_own_alert():
    rules, job = engine(RULES), new_job("etl")
    _reporting_run(job)
    start(job, "r2", T0 + 5 * MINUTE, lost_after=3600)
    progress(job, "r2", T0 + 5 * MINUTE, done=1)

    rules.evaluate([job], T0 + 16 * MINUTE)

    assert states(rules) == {"Stuck/etl/r1": "firing", "Stuck/etl/r2": "firing"}


def test_a_run_that_never_reported_progress_is_not_stuck_by_default():
    rules, job = engine(RULES), new_job("etl")
    start(job, "r1", T0, lost_after=3600)
    progress(job, "r1", T0 + 30 * MINUTE, cpu_percent=10)

    assert transitions(rules.evaluate([job], T0 + 30 * MINUTE)) == []


def test_require_progress_false_judges_every_run_from_its_start():
    rules = engine(
        """
        rules:
          - {name: Stuck, kind: stuck, no_progress_for: 10m, require_progress: false}
        """
    )
    job = new_job("etl")
    start(job, "r1", T0, lost_after=3600)

    assert transitions(rules.evaluate([job], T0 + 10 * MINUTE)) == [("firing", "Stuck/etl/r1")]


def test_a_lost_run_is_not_stuck():
    rules, job = engine(RULES), new_job("etl")
    start(job, "r1", T0, lost_after=15 * MINUTE)
    progress(job, "r1", T0 + MINUTE, done=1)
    rules.evaluate([job], T0 + 12 * MINUTE)
    assert states(rules) == {"Stuck/etl/r1": "firing"}

    evaluation = rules.evaluate([job], T0 + 16 * MINUTE + 1)

    assert transitions(evaluation) == [("resolved", "Stuck/etl/r1")]
