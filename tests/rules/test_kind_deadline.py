"""kind: deadline — a scheduled run must have succeeded by a wall-clock time or within a
duration of its scheduled time; missed by a minute and met by a minute, across DST changes."""

import textwrap
from datetime import datetime
from zoneinfo import ZoneInfo

from batchgate.rules.ruleset import parse_rules
from tests.rules.history import FAILED, engine, finish, new_job, push, run_once, start, transitions

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE, HOUR = 60.0, 3600.0

BY_SIX = """
rules:
  - name: ReportLate
    match: {job: report}
    kind: deadline
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    finish_by: "06:00"
"""
WITHIN_FOUR_HOURS = """
rules:
  - name: ExportLate
    kind: deadline
    schedule: "0 1 * * *"
    timezone: Europe/Berlin
    finish_within: 4h
"""


def berlin(month, day, hour, minute, year=2024, fold=0):
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold).timestamp()


def _job(name, month, day, hour, kind="batch"):
    """A job known since the first of the month that succeeded every day up to the day before
    `day`, started at `hour`."""
    job = new_job(name, at=berlin(month, 1, 0, 0), kind=kind)
    for earlier in range(1, day):
        run_once(job, f"d{earlier}", berlin(month, earlier, hour, 0), 30 * MINUTE)
    return job


def _fired(rules, job, at):
    return transitions(rules.evaluate([job], at))


# 2024-03-31 in Berlin: clocks jump from 02:00 to 03:00. The 02:00 run is due at 03:00 CEST (as
# cron does it), and 06:00 is still 06:00 on the wall clock: three hours of work, not four.


def test_finish_by_missed_by_a_minute_on_the_spring_change():
    rules, job = engine(BY_SIX), _job("report", 3, 31, 2)
    start(job, "r1", berlin(3, 31, 3, 0))

    assert _fired(rules, job, berlin(3, 31, 5, 59)) == []
    assert _fired(rules, job, berlin(3, 31, 6, 0)) == [("firing", "ReportLate/report")]
    (alert,) = rules.book.active.values()
    assert alert.active_at == berlin(3, 31, 6, 0)

    finish(job, "r1", berlin(3, 31, 6, 1))  # it did finish, a minute late: resolved
    assert _fired(rules, job, berlin(3, 31, 6, 1)) == [("resolved", "ReportLate/report")]


def test_finish_by_met_by_a_minute_on_the_spring_change():
    rules, job = engine(BY_SIX), _job("report", 3, 31, 2)
    run_once(job, "r1", berlin(3, 31, 3, 0), 2 * HOUR + 59 * MINUTE)  # 05:59 CEST

    assert _fired(rules, job, berlin(3, 31, 6, 0)) == []
    assert _fired(rules, job, berlin(3, 31, 23, 0)) == []


def test_a_failed_run_does_not_meet_the_deadline():
    rules, job = engine(BY_SIX), _job("report", 3, 31, 2)
    run_once(job, "r1", berlin(3, 31, 3, 0), HOUR, FAILED)

    assert _fired(rules, job, berlin(3, 31, 6, 0)) == [("firing", "ReportLate/report")]


# 2024-10-27 in Berlin: clocks fall back from 03:00 CEST to 02:00 CET. The 01:00 CEST export
# has 4 hours of real time: until 04:00 CET on the wall clock, not 05:00.


def test_finish_within_missed_by_a_minute_on_the_autumn_change():
    rules, job = engine(WITHIN_FOUR_HOURS), _job("export", 10, 27, 1)
    start(job, "r1", berlin(10, 27, 1, 0))

    assert _fired(rules, job, berlin(10, 27, 3, 59, fold=1)) == []
    assert _fired(rules, job, berlin(10, 27, 4, 0)) == [("firing", "ExportLate/export")]


def test_finish_within_met_by_a_minute_on_the_autumn_change():
    rules, job = engine(WITHIN_FOUR_HOURS), _job("export", 10, 27, 1)
    start(job, "r1", berlin(10, 27, 1, 0))
    finish(job, "r1", berlin(10, 27, 3, 59, fold=1))  # 03:59 CET: 3h59m after 01:00 CEST

    assert _fired(rules, job, berlin(10, 27, 4, 0)) == []


def test_a_success_of_an_older_run_does_not_count_for_the_next_scheduled_time():
    rules, job = engine(WITHIN_FOUR_HOURS), _job("export", 10, 20, 1)
    run_once(job, "r1", berlin(10, 20, 1, 0), HOUR)
    assert _fired(rules, job, berlin(10, 20, 5, 0)) == []

    # No run on the 21st: its deadline passes at 05:00 CEST, the alert counts from then.
    assert _fired(rules, job, berlin(10, 21, 5, 0)) == [("firing", "ExportLate/export")]
    rules.evaluate([job], berlin(10, 23, 12, 0))
    (alert,) = rules.book.active.values()
    assert alert.active_at == berlin(10, 21, 5, 0)


def test_no_verdict_before_the_job_was_known_and_the_engine_wakes_at_the_next_deadline():
    rules, job = engine(BY_SIX), new_job("report", at=berlin(3, 20, 12, 0))

    (deadline_kind,) = [rule.kind for rule in rules.ruleset.rules]
    conditions, wake = deadline_kind.evaluate(job, berlin(3, 20, 13, 0), rules.context)
    assert conditions == ()
    assert wake == berlin(3, 21, 6, 0)


def test_a_pushgateway_push_stands_for_a_success():
    rules, group = engine(BY_SIX), new_job("report", at=berlin(3, 1, 0, 0), kind="pushgateway")
    push(group, berlin(3, 21, 2, 30))

    assert _fired(rules, group, berlin(3, 21, 6, 0)) == []
    assert _fired(rules, group, berlin(3, 22, 6, 0)) == [("firing", "ReportLate/report")]


def _errors(text):
    _, errors = parse_rules(textwrap.dedent(text), "rules.yaml")
    return [str(error) for error in sorted(errors)]


def test_every_mistake_is_reported_with_its_line():
    assert _errors(
        """
        rules:
          - {name: A, kind: deadline, schedule: "0 2 * * *"}
          - {name: B, kind: deadline, finish_within: 1h}
          - {name: C, kind: deadline, schedule: "0 2 * * *", finish_by: "25:00"}
          - {name: D, kind: deadline, schedule: "0 2 * *", timezone: Mars/Olympus, finish_within: 4}
          - {name: E, kind: deadline, schedule: "0 2 * * *", finish_within: 1h, finish_by: "06:00"}
        """
    ) == [
        "rules.yaml:3: deadline: give exactly one of 'finish_within' or 'finish_by'",
        "rules.yaml:4: rule 'B' (deadline): missing required key 'schedule'",
        "rules.yaml:5: finish_by: '25:00' is not a time of day (HH:MM, 24h)",
        "rules.yaml:6: finish_within: '4' needs a unit, e.g. 4s or 4m",
        "rules.yaml:6: schedule: '0 2 * *' must have 5 fields (m h dom mon dow)",
        "rules.yaml:6: timezone: unknown time zone 'Mars/Olympus'",
        "rules.yaml:7: deadline: give exactly one of 'finish_within' or 'finish_by'",
    ]
