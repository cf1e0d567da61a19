"""Alerts survive a restart: restored from their dicts, a firing alert is not sent again."""

import json

from batchgate.rules.alerts import Alert, Notification
from batchgate.rules.book import AlertBook
from batchgate.rules.engine import RuleEngine
from batchgate.rules.receivers import Router, load_receivers
from tests.rules.history import FAILED, T0, new_job, ruleset, run_once, transitions

RULES = """
rules:
  - {name: JobFailed, kind: failure, annotations: {summary: "{{ job }} failed"}}
  - {name: Stuck, kind: stuck, no_progress_for: 10m}
"""
RECEIVERS = """
receivers:
  - {name: ops, webhook: {url: "http://hooks.example/ops"}, repeat_interval: 1h}
"""


def _engine(rules=RULES):
    receivers, _ = load_receivers(RECEIVERS)
    return RuleEngine(ruleset(rules), book=AlertBook(router=Router(receivers)))


def _restart(before, rules=RULES):
    saved = json.loads(json.dumps(before.book.to_dicts()))  # as it would go through SQLite
    after = _engine(rules)
    after.restore(saved)
    return after


def test_an_alert_round_trips_through_its_dict():
    before, job = _engine(), new_job("etl", {"env": "prod"})
    run_once(job, "r1", T0, 60, FAILED)
    before.evaluate([job], T0 + 60)
    (alert,) = before.book.active.values()

    again = Alert.from_dict(json.loads(json.dumps(alert.to_dict())))

    assert again.to_dict() == alert.to_dict()
    assert again.job == job.key


def test_a_restored_firing_alert_is_not_sent_again_as_new():
    before, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    assert len(before.evaluate([job], T0 + 60).notifications) == 1

    after = _restart(before)
    evaluation = after.evaluate([job], T0 + 120)

    assert transitions(evaluation) == []
    assert evaluation.notifications == []
    assert [a.state for a in after.alerts] == ["firing"]


def test_a_restored_alert_repeats_on_its_original_schedule():
    before, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    before.evaluate([job], T0 + 60)
    after = _restart(before)

    assert after.evaluate([job], T0 + 60 + 3599).notifications == []
    assert [n.reason for n in after.evaluate([job], T0 + 60 + 3600).notifications] == ["repeat"]


def test_a_restored_alert_whose_condition_ended_while_down_resolves():
    before, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    before.evaluate([job], T0 + 60)
    after = _restart(before)
    run_once(job, "r2", T0 + 100, 60)

    evaluation = after.evaluate([job], T0 + 200)

    assert transitions(evaluation) == [("resolved", "JobFailed/etl")]
    assert [(n.reason, n.status) for n in evaluation.notifications] == [("resolved", "resolved")]


def test_a_restored_alert_of_a_job_that_is_gone_resolves_on_the_first_pass():
    before, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    before.evaluate([job], T0 + 60)
    after = _restart(before)

    assert transitions(after.evaluate([], T0 + 120)) == [("resolved", "JobFailed/etl")]


def test_a_restored_alert_of_a_rule_that_is_gone_resolves_on_the_first_pass():
    before, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    before.evaluate([job], T0 + 60)
    after = _restart(before, rules="rules:\n  - {name: Stuck, kind: stuck, no_progress_for: 10m}\n")

    assert transitions(after.evaluate([job], T0 + 120)) == [("resolved", "JobFailed/etl")]


def test_a_reload_that_drops_a_rule_resolves_its_alerts():
    rules, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    rules.evaluate([job], T0 + 60)

    rules.replace_rules(ruleset("rules:\n  - {name: Stuck, kind: stuck, no_progress_for: 10m}\n"))

    assert transitions(rules.evaluate([job], T0 + 120)) == [("resolved", "JobFailed/etl")]


def test_evaluation_changes_say_what_to_persist():
    rules, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)

    first = rules.evaluate([job], T0 + 60)
    quiet = rules.evaluate([job], T0 + 70)

    (alert_id,) = first.changed
    assert first.changed[alert_id].deliveries["ops"].status == "firing"
    assert quiet.changed == {}
    assert quiet.removed == set()


def test_notifications_round_trip_through_their_dicts():
    rules, job = _engine(), new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    (notification,) = rules.evaluate([job], T0 + 60).notifications

    again = Notification.from_dict(json.loads(json.dumps(notification.to_dict())))

    assert again == notification
