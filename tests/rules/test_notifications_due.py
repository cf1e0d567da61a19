"""Which receiver is told what, and when: routing, repeats, resolution, severity, silences."""

import textwrap

from batchgate.rules.book import AlertBook
from batchgate.rules.engine import RuleEngine
from batchgate.rules.payloads import format_time
from batchgate.rules.receivers import Router, load_receivers
from batchgate.rules.silences import parse_silence
from tests.rules.history import (
    FAILED,
    T0,
    new_job,
    progress,
    ruleset,
    run_once,
    start,
)

RECEIVERS = """
receivers:
  - name: ops
    webhook: {url: "http://hooks.example/ops"}
    repeat_interval: 1h
  - name: pager
    webhook: {url: "http://hooks.example/pager"}
    match: {severity: [critical, high]}
    send_resolved: false
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093"}
"""
RULES = """
rules:
  - {name: JobFailed, kind: failure, severity: critical}
  - name: Stuck
    kind: stuck
    no_progress_for: 10m
    severity_tiers: [{after: 10m, severity: low}, {after: 1h, severity: high}]
"""
MINUTE, HOUR = 60.0, 3600.0


def _engine(rules=RULES, receivers=RECEIVERS):
    loaded, errors = load_receivers(textwrap.dedent(receivers), "batchgate.yaml")
    assert errors == []
    return RuleEngine(ruleset(rules), book=AlertBook(router=Router(loaded)))


def _told(evaluation):
    return sorted((n.receiver, n.reason, n.status) for n in evaluation.notifications)


def _failed_job():
    job = new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)
    return job


def test_a_firing_alert_goes_to_every_receiver_that_matches():
    rules, job = _engine(), _failed_job()

    evaluation = rules.evaluate([job], T0 + 60)

    assert _told(evaluation) == [
        ("am", "firing", "firing"),
        ("ops", "firing", "firing"),
        ("pager", "firing", "firing"),
    ]


def test_a_pending_alert_is_not_notified():
    rules, job = _engine("rules:\n  - {name: JobFailed, kind: failure, for: 5m}\n"), _failed_job()

    assert _told(rules.evaluate([job], T0 + 60)) == []


def test_routing_by_severity_keeps_low_alerts_from_the_pager():
    rules, job = _engine(), new_job("etl")
    start(job, "r1", T0)
    progress(job, "r1", T0, done=1)

    evaluation = rules.evaluate([job], T0 + 10 * MINUTE)

    assert _told(evaluation) == [("am", "firing", "firing"), ("ops", "firing", "firing")]


def test_a_firing_alert_is_repeated_after_each_receivers_repeat_interval():
    rules, job = _engine(), _failed_job()
    rules.evaluate([job], T0 + 60)

    assert _told(rules.evaluate([job], T0 + 60 + 59)) == []
    assert _told(rules.evaluate([job], T0 + 60 + MINUTE)) == [("am", "repeat", "firing")]
    assert _told(rules.evaluate([job], T0 + 60 + HOUR)) == [
        ("am", "repeat", "firing"),
        ("ops", "repeat", "firing"),
    ]
    assert _told(rules.evaluate([job], T0 + 60 + 4 * HOUR)) == [
        ("am", "repeat", "firing"),
        ("ops", "repeat", "firing"),
        ("pager", "repeat", "firing"),
    ]


def test_resolution_is_told_to_those_told_it_fired_unless_send_resolved_is_false():
    rules, job = _engine(), _failed_job()
    rules.evaluate([job], T0 + 60)
    run_once(job, "r2", T0 + 100, 60)

    evaluation = rules.evaluate([job], T0 + 200)

    assert _told(evaluation) == [("am", "resolved", "resolved"), ("ops", "resolved", "resolved")]
    notification = evaluation.notifications[0]
    assert (notification.starts_at, notification.ends_at) == (T0 + 60, T0 + 200)


def test_severity_escalation_is_a_notification_that_retracts_the_old_labels():
    rules, job = _engine(), new_job("etl")
    start(job, "r1", T0, lost_after=24 * HOUR)
    progress(job, "r1", T0, done=1)
    rules.evaluate([job], T0 + 10 * MINUTE)

    evaluation = rules.evaluate([job], T0 + HOUR)

    assert _told(evaluation) == [
        ("am", "severity", "firing"),
        ("ops", "severity", "firing"),
        ("pager", "firing", "firing"),
    ]
    ops = next(n for n in evaluation.notifications if n.receiver == "ops")
    assert ops.labels["severity"] == "high"
    assert ops.stale_labels is not None
    assert ops.stale_labels["severity"] == "low"


def test_a_receiver_that_no_longer_matches_is_told_the_alert_resolved():
    rules, job = (
        _engine(
            receivers="""
        receivers:
          - name: lows
            webhook: {url: "http://hooks.example/lows"}
            match: {severity: low}
        """
        ),
        new_job("etl"),
    )
    start(job, "r1", T0, lost_after=24 * HOUR)
    progress(job, "r1", T0, done=1)
    rules.evaluate([job], T0 + 10 * MINUTE)

    evaluation = rules.evaluate([job], T0 + HOUR)

    (told,) = evaluation.notifications
    assert (told.receiver, told.status, told.labels["severity"]) == ("lows", "resolved", "low")


def _silence(matchers, starts, ends):
    return parse_silence(
        {
            "matchers": matchers,
            "startsAt": format_time(starts),
            "endsAt": format_time(ends),
            "createdBy": "alice",
            "comment": "maintenance",
        },
        new_id="s1",
        now=starts,
    )


def test_a_silenced_alert_is_not_notified_and_is_marked_silenced():
    rules, job = _engine(), _failed_job()
    silence = _silence([{"name": "job", "value": "etl", "isRegex": False}], T0, T0 + HOUR)

    evaluation = rules.evaluate([job], T0 + 60, silences=[silence])

    assert _told(evaluation) == []
    (alert,) = rules.book.active.values()
    assert alert.silenced_by == ("s1",)
    assert alert.to_dict()["silenced_by"] == ["s1"]


def test_when_the_silence_ends_the_firing_alert_is_notified():
    rules, job = _engine(), _failed_job()
    silence = _silence([{"name": "job", "value": "etl", "isRegex": False}], T0, T0 + HOUR)
    rules.evaluate([job], T0 + 60, silences=[silence])

    evaluation = rules.evaluate([job], T0 + HOUR, silences=[silence])

    assert [n.reason for n in evaluation.notifications] == ["firing"] * 3


def test_resolution_during_a_silence_is_still_told_to_those_told_it_fired():
    rules, job = _engine(), _failed_job()
    rules.evaluate([job], T0 + 60)
    silence = _silence(
        [{"name": "alertname", "value": "JobFailed", "isRegex": False}], T0, T0 + HOUR
    )
    run_once(job, "r2", T0 + 100, 60)

    evaluation = rules.evaluate([job], T0 + 200, silences=[silence])

    assert _told(evaluation) == [("am", "resolved", "resolved"), ("ops", "resolved", "resolved")]


def test_evaluate_job_notifies_at_once():
    rules, job = _engine(), new_job("etl")
    rules.evaluate([job], T0)
    run_once(job, "r1", T0, 60, FAILED)

    evaluation = rules.evaluate_job(job, T0 + 60)

    assert len(evaluation.notifications) == 3


def test_a_receiver_added_by_a_reload_is_told_of_alerts_already_firing():
    rules, job = _engine(), _failed_job()
    rules.evaluate([job], T0 + 60)
    receivers, _ = load_receivers(
        textwrap.dedent(RECEIVERS)
        + '  - {name: newcomer, webhook: {url: "http://hooks.example/new"}}\n'
    )

    rules.book.set_router(Router(receivers))
    evaluation = rules.evaluate([job], T0 + 70)

    assert _told(evaluation) == [("newcomer", "firing", "firing")]


def test_a_receiver_removed_by_a_reload_is_forgotten_not_told():
    rules, job = _engine(), _failed_job()
    rules.evaluate([job], T0 + 60)
    receivers, _ = load_receivers(textwrap.dedent(RECEIVERS))

    rules.book.set_router(Router([r for r in receivers if r.name != "pager"]))
    evaluation = rules.evaluate([job], T0 + 70)

    assert _told(evaluation) == []
    (alert,) = rules.book.active.values()
    assert sorted(alert.deliveries) == ["am", "ops"]
