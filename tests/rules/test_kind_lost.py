"""kind: lost — a run silent past its lost-after (the process was probably killed)."""

from batchgate.rules.engine import RuleEngine
from batchgate.rules.kinds import Context
from tests.rules.history import (
    T0,
    mark_lost,
    new_job,
    progress,
    ruleset,
    run_once,
    start,
    states,
    transitions,
)

RULES = """
rules:
  - {name: JobLost, kind: lost}
"""
MINUTE = 60.0


def _engine():
    return RuleEngine(ruleset(RULES), context=Context(default_lost_after=10 * MINUTE))


def test_a_silent_run_is_lost_once_past_the_default_lost_after():
    rules, job = _engine(), new_job("backup")
    start(job, "r1", T0)
    progress(job, "r1", T0 + MINUTE, done=1)

    assert transitions(rules.evaluate([job], T0 + 11 * MINUTE)) == []
    assert transitions(rules.evaluate([job], T0 + 11 * MINUTE + 1)) == [
        ("firing", "JobLost/backup")
    ]


def test_a_run_with_its_own_lost_after_uses_it():
    rules, job = _engine(), new_job("backup")
    start(job, "r1", T0, lost_after=2 * MINUTE)

    assert transitions(rules.evaluate([job], T0 + 2 * MINUTE + 1)) == [("firing", "JobLost/backup")]


def test_it_stays_firing_when_the_collector_marks_the_run_lost():
    rules, job = _engine(), new_job("backup")
    start(job, "r1", T0)
    rules.evaluate([job], T0 + 11 * MINUTE)
    mark_lost(job, "r1", T0 + 12 * MINUTE)

    assert transitions(rules.evaluate([job], T0 + 12 * MINUTE)) == []
    assert states(rules) == {"JobLost/backup": "firing"}


def test_it_resolves_when_a_later_run_finishes():
    rules, job = _engine(), new_job("backup")
    start(job, "r1", T0)
    rules.evaluate([job], T0 + 11 * MINUTE)
    mark_lost(job, "r1", T0 + 12 * MINUTE)
    run_once(job, "r2", T0 + 60 * MINUTE, MINUTE)

    assert transitions(rules.evaluate([job], T0 + 61 * MINUTE)) == [("resolved", "JobLost/backup")]


def test_the_annotation_sees_the_lost_run():
    rules = RuleEngine(
        ruleset(
            """
            rules:
              - name: JobLost
                kind: lost
                annotations:
                  summary: "{{ run.run_id }} silent since {{ run.last_event_at | timestamp }}"
            """
        ),
        context=Context(default_lost_after=10 * MINUTE),
    )
    job = new_job("backup")
    start(job, "r1", T0)
    rules.evaluate([job], T0 + 11 * MINUTE)

    (alert,) = rules.book.active.values()
    assert alert.annotations == {"summary": "r1 silent since 2024-05-01 00:00:00 UTC"}
