"""severity_tiers: the severity follows how long the problem has lasted."""

from batchgate.rules.alerts import FIRING
from tests.rules.history import T0, engine, new_job, progress, start

# The example: stuck 10-30 min low, 30-60 medium, 1-2 h high, over 2 h critical.
RULES = """
rules:
  - name: Stuck
    kind: stuck
    no_progress_for: 10m
    severity_tiers:
      - {after: 10m, severity: low}
      - {after: 30m, severity: medium}
      - {after: 1h, severity: high}
      - {after: 2h, severity: critical}
"""
MINUTE = 60.0


def _stuck_job():
    job = new_job("etl")
    start(job, "r1", T0, lost_after=24 * 3600)
    progress(job, "r1", T0, done=1)
    return job


def test_elapsed_time_is_measured_from_the_last_progress():
    rules, job = engine(RULES), _stuck_job()

    rules.evaluate([job], T0 + 10 * MINUTE)
    (alert,) = rules.book.active.values()

    assert alert.state == FIRING
    assert alert.severity == "low"
    assert alert.labels["severity"] == "low"


def test_severity_escalates_at_each_tier_and_each_change_is_a_transition():
    rules, job = engine(RULES), _stuck_job()
    rules.evaluate([job], T0 + 10 * MINUTE)
    seen = []
    for minute in (29, 30, 59, 60, 119, 120, 500):
        evaluation = rules.evaluate([job], T0 + minute * MINUTE)
        seen += [
            (minute, t.kind, t.previous_severity, t.alert["severity"])
            for t in evaluation.transitions
        ]

    assert seen == [
        (30, "severity", "low", "medium"),
        (60, "severity", "medium", "high"),
        (120, "severity", "high", "critical"),
    ]


def test_a_problem_first_seen_late_starts_at_the_tier_it_has_reached():
    rules, job = engine(RULES), _stuck_job()

    rules.evaluate([job], T0 + 90 * MINUTE)
    (alert,) = rules.book.active.values()

    assert alert.severity == "high"


def test_below_the_first_tier_the_first_tier_applies():
    rules = engine(
        """
        rules:
          - name: Stuck
            kind: stuck
            no_progress_for: 5m
            severity_tiers: [{after: 10m, severity: low}, {after: 30m, severity: high}]
        """
    )
    job = _stuck_job()

    rules.evaluate([job], T0 + 5 * MINUTE)
    (alert,) = rules.book.active.values()

    assert alert.severity == "low"


def test_a_pending_alert_carries_the_severity_of_the_time_elapsed():
    rules = engine(
        """
        rules:
          - name: Stuck
            kind: stuck
            no_progress_for: 10m
            for: 1h
            severity_tiers: [{after: 10m, severity: low}, {after: 30m, severity: high}]
        """
    )
    job = _stuck_job()

    evaluation = rules.evaluate([job], T0 + 35 * MINUTE)

    (transition,) = evaluation.transitions
    assert (transition.kind, transition.alert["severity"]) == ("pending", "high")
