"""kind: consecutive_failures — fire after N failures in a row, resolve after M successes."""

from tests.rules.history import FAILED, SUCCEEDED, T0, engine, new_job, run_once, states

RULES = """
rules:
  - {name: KeepsFailing, kind: consecutive_failures, count: 3, resolve_after: 2}
"""


def _runs(job, statuses, start=0):
    for index, status in enumerate(statuses, start):
        run_once(job, f"r{index}", T0 + index * 100, 10, status)
    return T0 + (start + len(statuses)) * 100


def test_it_fires_after_n_consecutive_failures_not_before():
    rules, job = engine(RULES), new_job("etl")
    at = _runs(job, [FAILED, FAILED])
    rules.evaluate([job], at)
    assert states(rules) == {}

    at = _runs(job, [FAILED], start=2)
    rules.evaluate([job], at)
    assert states(rules) == {"KeepsFailing/etl": "firing"}


def test_a_success_in_between_breaks_the_streak():
    rules, job = engine(RULES), new_job("etl")
    at = _runs(job, [FAILED, FAILED, SUCCEEDED, FAILED, FAILED])

    rules.evaluate([job], at)

    assert states(rules) == {}


def test_consecutive_failures_resolves_after_m_successes():
    rules, job = engine(RULES), new_job("etl")
    at = _runs(job, [FAILED, FAILED, FAILED])
    rules.evaluate([job], at)

    at = _runs(job, [SUCCEEDED], start=3)
    rules.evaluate([job], at)
    assert states(rules) == {"KeepsFailing/etl": "firing"}  # one success is not enough

    at = _runs(job, [SUCCEEDED], start=4)
    rules.evaluate([job], at)
    assert states(rules) == {}


def test_a_failure_between_successes_keeps_it_firing():
    rules, job = engine(RULES), new_job("etl")
    at = _runs(job, [FAILED, FAILED, FAILED, SUCCEEDED, FAILED, SUCCEEDED])

    rules.evaluate([job], at)

    assert states(rules) == {"KeepsFailing/etl": "firing"}
    (alert,) = rules.book.active.values()
    assert alert.active_at == T0 + 2 * 100 + 10  # when the third failure finished


def test_cancelled_runs_are_neutral():
    rules, job = engine(RULES), new_job("etl")
    at = _runs(job, [FAILED, "cancelled", FAILED, FAILED])

    rules.evaluate([job], at)

    assert states(rules) == {"KeepsFailing/etl": "firing"}
