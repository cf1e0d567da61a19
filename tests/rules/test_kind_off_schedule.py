"""kind: off_schedule — a run that starts when none is scheduled, or a second run for one
scheduled time (a job started twice in one slot)."""

import textwrap
from datetime import datetime
from zoneinfo import ZoneInfo

from batchgate.rules.ruleset import parse_rules
from tests.rules.history import engine, finish, new_job, run_once, start, states, transitions

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE, HOUR = 60.0, 3600.0

NIGHTLY = """
rules:
  - name: BackupOffSchedule
    match: {job: backup}
    kind: off_schedule
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    grace: 10m
"""


def berlin(day, hour, minute, second=0):
    return datetime(2024, 5, day, hour, minute, second, tzinfo=BERLIN).timestamp()


def _alert(rules):
    (alert,) = rules.book.active.values()
    return alert


def test_runs_within_grace_of_their_scheduled_time_are_on_schedule():
    rules, job = engine(NIGHTLY), new_job("backup", at=berlin(1, 0, 0))
    run_once(job, "early", berlin(2, 1, 50), 20 * MINUTE)
    run_once(job, "late", berlin(3, 2, 10), 20 * MINUTE)

    assert transitions(rules.evaluate([job], berlin(3, 3, 0))) == []


def test_a_run_started_outside_grace_fires_at_once_naming_how_far_off_it_was():
    rules, job = engine(NIGHTLY), new_job("backup", at=berlin(1, 0, 0))
    run_once(job, "r1", berlin(2, 2, 0), 20 * MINUTE)
    start(job, "manual", berlin(2, 14, 30))

    assert transitions(rules.evaluate([job], berlin(2, 14, 30))) == [
        ("firing", "BackupOffSchedule/backup/manual")
    ]
    alert = _alert(rules)
    assert alert.value == 11.5 * HOUR
    assert alert.annotations == {
        "detail": "started at 2024-05-02 14:30:00 CEST, 11h 30m before the nearest scheduled "
        "time 2024-05-03 02:00:00 CEST (grace 10m)"
    }

    # Once it has finished, the alert stays until a later run finishes (on schedule).
    finish(job, "manual", berlin(2, 14, 50))
    assert transitions(rules.evaluate([job], berlin(2, 15, 0))) == []
    run_once(job, "r2", berlin(3, 2, 0), 20 * MINUTE)
    assert transitions(rules.evaluate([job], berlin(3, 2, 20))) == [
        ("resolved", "BackupOffSchedule/backup/manual")
    ]


def test_a_job_started_twice_in_one_slot_fires_for_the_second_run():
    rules, job = engine(NIGHTLY), new_job("backup", at=berlin(1, 0, 0))
    start(job, "host-a", berlin(2, 2, 0, 1))
    start(job, "host-b", berlin(2, 2, 0, 3))

    assert transitions(rules.evaluate([job], berlin(2, 2, 1))) == [
        ("firing", "BackupOffSchedule/backup/host-b")
    ]
    alert = _alert(rules)
    assert alert.value == 2.0
    assert alert.annotations == {
        "detail": "run 2 for the scheduled time 2024-05-02 02:00:00 CEST (started first: host-a)"
    }

    # Both finish; the second finished last and is still the extra run of its slot.
    finish(job, "host-a", berlin(2, 2, 30))
    finish(job, "host-b", berlin(2, 2, 31))
    assert states(rules) == {"BackupOffSchedule/backup/host-b": "firing"}
    assert transitions(rules.evaluate([job], berlin(2, 3, 0))) == []


def test_a_loop_that_restarts_the_job_is_one_alert_per_extra_run():
    rules, job = engine(NIGHTLY), new_job("backup", at=berlin(1, 0, 0))
    for attempt in range(3):
        run_once(job, f"r{attempt}", berlin(2, 2, 0) + attempt * 90, 60)
    start(job, "r3", berlin(2, 2, 0) + 270)

    rules.evaluate([job], berlin(2, 2, 5))
    assert states(rules) == {
        "BackupOffSchedule/backup/r2": "firing",  # the last finished run, third in its slot
        "BackupOffSchedule/backup/r3": "firing",  # the running one, fourth
    }


def test_pushgateway_groups_have_no_runs_to_judge():
    rules = engine(NIGHTLY)
    group = new_job("backup", at=berlin(1, 0, 0), kind="pushgateway")
    group.last_seen_at = berlin(2, 14, 0)
    assert transitions(rules.evaluate([group], berlin(2, 14, 0))) == []


def test_every_mistake_is_reported_with_its_line():
    _, errors = parse_rules(
        textwrap.dedent(
            """
            rules:
              - {name: A, kind: off_schedule}
              - {name: B, kind: off_schedule, schedule: "0 2 * * *", grace: 10}
              - {name: C, kind: off_schedule, schedule: "0 2 * * *", timezone: Nowhere}
            """
        ),
        "rules.yaml",
    )
    assert [str(error) for error in sorted(errors)] == [
        "rules.yaml:3: rule 'A' (off_schedule): missing required key 'schedule'",
        "rules.yaml:4: grace: '10' needs a unit, e.g. 10s or 10m",
        "rules.yaml:5: timezone: unknown time zone 'Nowhere'",
    ]
