"""kind: max_runtime — a running run past a hard limit; resolves when the run ends."""

from tests.rules.history import T0, engine, finish, new_job, start, transitions

RULES = """
rules:
  - {name: RanTooLong, kind: max_runtime, above: 3h}
"""
HOUR = 3600.0


def test_it_fires_when_a_run_reaches_the_limit_not_before():
    rules, job = engine(RULES), new_job("etl")
    start(job, "r1", T0)

    assert transitions(rules.evaluate([job], T0 + 3 * HOUR - 1)) == []
    assert transitions(rules.evaluate([job], T0 + 3 * HOUR)) == [("firing", "RanTooLong/etl/r1")]


def test_it_resolves_when_the_run_ends_even_if_it_was_slow():
    rules, job = engine(RULES), new_job("etl")
    start(job, "r1", T0)
    rules.evaluate([job], T0 + 4 * HOUR)

    finish(job, "r1", T0 + 5 * HOUR)

    assert transitions(rules.evaluate([job], T0 + 5 * HOUR)) == [("resolved", "RanTooLong/etl/r1")]
