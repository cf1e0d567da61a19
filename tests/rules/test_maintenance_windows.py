"""Maintenance windows: a recurring silence (cron, duration, time zone) mutes Tuesday 02:00 to
03:00 Berlin time, and not Tuesday 03:01; across a DST change the window stays on the wall
clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

from batchgate.rules.book import AlertBook
from batchgate.rules.engine import RuleEngine
from batchgate.rules.payloads import format_time
from batchgate.rules.receivers import Router, load_receivers
from batchgate.rules.silences import ACTIVE, EXPIRED, PENDING, parse_silence
from tests.rules.history import FAILED, new_job, ruleset, run_once

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month, day, hour, minute):
    return datetime(2024, month, day, hour, minute, tzinfo=BERLIN).timestamp()


TUESDAY = (5, 7)  # 2024-05-07 was a Tuesday


def _window(now, **changes):
    body = {
        "matchers": [{"name": "job", "value": "etl_.*", "isRegex": True}],
        "startsAt": format_time(berlin(5, 1, 0, 0)),
        "endsAt": format_time(berlin(12, 31, 0, 0)),
        "createdBy": "dba",
        "comment": "weekly database maintenance",
        "recurrence": {"schedule": "0 2 * * 2", "duration": "1h", "timezone": "Europe/Berlin"},
        **changes,
    }
    return parse_silence(body, new_id="w1", now=now)


def test_it_silences_tuesday_from_two_to_three_berlin_time_and_not_at_three_oh_one():
    window = _window(berlin(5, 1, 0, 0))
    labels = {"alertname": "JobFailed", "job": "etl_orders"}

    assert not window.matches(labels, berlin(*TUESDAY, 1, 59))
    assert window.matches(labels, berlin(*TUESDAY, 2, 0))
    assert window.matches(labels, berlin(*TUESDAY, 2, 59))
    assert not window.matches(labels, berlin(*TUESDAY, 3, 0))
    assert not window.matches(labels, berlin(*TUESDAY, 3, 1))
    assert not window.matches(labels, berlin(5, 8, 2, 30))  # a Wednesday
    assert not window.matches({"job": "backup"}, berlin(*TUESDAY, 2, 30))
    assert window.state(berlin(*TUESDAY, 2, 30)) == ACTIVE
    assert window.state(berlin(*TUESDAY, 3, 1)) == PENDING  # until next Tuesday
    assert window.state(berlin(12, 31, 0, 0)) == EXPIRED


def test_the_window_stays_on_the_wall_clock_across_a_dst_change():
    window = _window(berlin(5, 1, 0, 0))
    labels = {"job": "etl_orders"}
    # 2024-10-29 is the Tuesday after the autumn change: 02:00 CET, an hour later in UTC.
    assert window.matches(labels, berlin(10, 29, 2, 30))
    assert not window.matches(labels, berlin(10, 29, 3, 1))


def test_it_mutes_notifications_only_inside_the_window():
    loaded, errors = load_receivers('receivers:\n  - {name: ops, webhook: {url: "http://h/"}}')
    assert errors == []
    rules = RuleEngine(
        ruleset("rules:\n  - {name: JobFailed, kind: failure}\n"),
        book=AlertBook(router=Router(loaded)),
    )
    window = _window(berlin(5, 1, 0, 0))
    job = new_job("etl_orders", at=berlin(5, 1, 0, 0))
    run_once(job, "r1", berlin(*TUESDAY, 2, 10), 60, FAILED)

    inside = rules.evaluate([job], berlin(*TUESDAY, 2, 30), silences=[window])
    assert inside.notifications == []
    (alert,) = rules.book.active.values()
    assert alert.silenced_by == ("w1",)

    after = rules.evaluate([job], berlin(*TUESDAY, 3, 1), silences=[window])
    assert [(n.status, n.reason) for n in after.notifications] == [("firing", "firing")]
    assert not alert.silenced_by


def test_it_round_trips_through_its_stored_form():
    window = _window(berlin(5, 1, 0, 0))
    stored = window.to_dict(berlin(5, 1, 0, 0))
    assert stored["recurrence"] == {
        "schedule": "0 2 * * 2", "duration": "1h", "timezone": "Europe/Berlin",
    }  # fmt: skip
    again = parse_silence(stored, new_id="", now=berlin(12, 1, 0, 0), stored=True)
    assert again == window
    assert window.expire(berlin(5, 2, 0, 0)).recurrence == window.recurrence


def test_every_problem_of_a_recurrence_is_named():
    try:
        _window(
            berlin(5, 1, 0, 0),
            recurrence={"schedule": "0 2 * *", "duration": "1 hour", "timezone": "Mars", "x": 1},
        )
    except ValueError as invalid:
        fields = sorted((e.field, e.reason) for e in invalid.errors)  # type: ignore[attr-defined]
    assert fields == [
        ("recurrence.duration", "invalid duration '1 hour': use a number and a unit, e.g. "
         "30s, 10m, 2h, 1d"),
        ("recurrence.schedule", "required: a cron expression of 5 fields (m h dom mon dow)"),
        ("recurrence.timezone", "unknown time zone 'Mars'"),
        ("recurrence.x", "unknown field"),
    ]  # fmt: skip
