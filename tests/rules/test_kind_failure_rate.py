"""kind: failure_rate — the share of failed runs over a window, with a minimum of runs."""

from tests.rules.history import FAILED, SUCCEEDED, T0, engine, new_job, run_once, states

HOUR = 3600.0
WINDOW = """
rules:
  - {name: Flaky, kind: failure_rate, above: 25%, window: 24h, min_runs: 4}
"""


def _hourly(job, statuses, start=0):
    for index, status in enumerate(statuses, start):
        run_once(job, f"r{index}", T0 + index * HOUR, 60, status)
    return T0 + (start + len(statuses)) * HOUR


def test_it_fires_above_the_threshold_once_enough_runs_count():
    rules, job = engine(WINDOW), new_job("etl")
    at = _hourly(job, [FAILED, FAILED, SUCCEEDED])
    rules.evaluate([job], at)
    assert states(rules) == {}  # 3 runs < min_runs

    at = _hourly(job, [SUCCEEDED], start=3)
    rules.evaluate([job], at)
    assert states(rules) == {"Flaky/etl": "firing"}
    (alert,) = rules.book.active.values()
    assert alert.value == 0.5


def test_a_rate_equal_to_the_threshold_does_not_fire():
    rules, job = engine(WINDOW), new_job("etl")
    at = _hourly(job, [FAILED, SUCCEEDED, SUCCEEDED, SUCCEEDED])

    rules.evaluate([job], at)

    assert states(rules) == {}


def test_failures_that_leave_the_window_stop_counting():
    rules, job = engine(WINDOW), new_job("etl")
    at = _hourly(job, [FAILED, FAILED, SUCCEEDED, SUCCEEDED, SUCCEEDED, SUCCEEDED])
    rules.evaluate([job], at)
    assert states(rules) == {"Flaky/etl": "firing"}  # 2 of 6

    # r0 finished at T0 + 60s: it leaves the 24h window then, and 1 of 5 is 20%.
    rules.evaluate([job], T0 + 60 + 24 * HOUR - 1)
    assert states(rules) == {"Flaky/etl": "firing"}
    rules.evaluate([job], T0 + 60 + 24 * HOUR)
    assert states(rules) == {}


def test_over_last_counts_the_last_n_runs():
    rules = engine(
        """
        rules:
          - {name: Flaky, kind: failure_rate, above: 0.5, over_last: 4, min_runs: 4}
        """
    )
    job = new_job("etl")
    at = _hourly(job, [SUCCEEDED] * 10 + [FAILED, FAILED, FAILED, SUCCEEDED])

    rules.evaluate([job], at)

    assert states(rules) == {"Flaky/etl": "firing"}
