"""pending -> firing after `for` -> resolved; a pending alert that ends is dropped."""

from tests.rules.history import FAILED, T0, engine, new_job, run_once, states, transitions

RULES = """
rules:
  - name: JobFailed
    kind: failure
    for: 10m
    labels: {team: data}
"""


def test_it_is_pending_until_the_for_duration_has_passed():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)

    assert transitions(rules.evaluate([job], T0 + 60)) == [("pending", "JobFailed/etl")]
    assert transitions(rules.evaluate([job], T0 + 60 + 599)) == []
    assert states(rules) == {"JobFailed/etl": "pending"}


def test_it_fires_after_for_duration():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 60)

    evaluation = rules.evaluate([job], T0 + 60 + 600)

    assert transitions(evaluation) == [("firing", "JobFailed/etl")]
    alert = next(iter(rules.book.active.values()))
    assert alert.active_at == T0 + 60
    assert alert.fired_at == T0 + 660


def test_for_counts_from_when_the_condition_began_not_from_when_it_was_first_seen():
    # The failure happened 20 minutes before batchgate first evaluated it: `for: 10m` has
    # already held, so it fires at once, with no pending step.
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)

    assert transitions(rules.evaluate([job], T0 + 60 + 1200)) == [("firing", "JobFailed/etl")]


def test_a_pending_alert_whose_condition_ends_is_dropped_not_resolved():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 60)
    run_once(job, "r2", T0 + 100, 60)

    evaluation = rules.evaluate([job], T0 + 200)

    assert transitions(evaluation) == [("dropped", "JobFailed/etl")]
    assert evaluation.removed == {evaluation.transitions[0].alert_id}
    assert rules.book.resolved == {}


def test_a_resolved_alert_stays_visible_for_the_retention_then_leaves():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 1000)
    run_once(job, "r2", T0 + 1100, 60)
    resolved = rules.evaluate([job], T0 + 1200)
    (alert_id,) = resolved.changed

    assert rules.book.resolved[alert_id].resolved_at == T0 + 1200
    assert rules.evaluate([job], T0 + 1200 + 899).removed == set()
    assert rules.evaluate([job], T0 + 1200 + 900).removed == {alert_id}
    assert rules.book.resolved == {}


def test_the_alert_carries_alertname_job_grouping_labels_severity_and_rule_labels():
    rules, job = engine(RULES), new_job("etl", {"env": "prod", "region": "eu"})
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 1000)

    (alert,) = rules.book.active.values()
    assert alert.labels == {
        "alertname": "JobFailed",
        "job": "etl",
        "env": "prod",
        "region": "eu",
        "team": "data",
        "severity": "warning",
    }


def test_a_new_episode_after_resolution_starts_over():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 1000)
    run_once(job, "r2", T0 + 1100, 60)
    rules.evaluate([job], T0 + 1200)
    run_once(job, "r3", T0 + 1300, 60, FAILED)

    evaluation = rules.evaluate([job], T0 + 1400)

    assert transitions(evaluation) == [("pending", "JobFailed/etl")]
    assert rules.book.resolved == {}


def test_a_deleted_job_resolves_its_alerts():
    rules, job, other = engine(RULES), new_job("etl"), new_job("other")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job, other], T0 + 1000)

    evaluation = rules.evaluate([other], T0 + 1010)

    assert transitions(evaluation) == [("resolved", "JobFailed/etl")]


def test_forget_job_resolves_at_once():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 1000)

    assert transitions(rules.forget_job(job.key, T0 + 1001)) == [("resolved", "JobFailed/etl")]
