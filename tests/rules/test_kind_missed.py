"""kind: missed — a cron schedule (time zone, grace) whose run did not start; or an interval."""

from datetime import datetime
from zoneinfo import ZoneInfo

from batchgate.rules.kinds import Context
from tests.rules.history import T0, engine, new_job, push, run_once, start, states, transitions

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

NIGHTLY = """
rules:
  - name: NightlyBackupMissed
    match: {job: backup_db}
    kind: missed
    schedule: "30 2 * * *"
    timezone: Europe/Berlin
    grace: 30m
"""


def berlin(year, month, day, hour, minute, fold=0):
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold).timestamp()


def _daily_backups_until(job, last_day):
    """A backup at 02:30 Berlin time on each day of March 2024 up to `last_day`."""
    for day in range(20, last_day + 1):
        run_once(job, f"r{day}", berlin(2024, 3, day, 2, 30), 10 * MINUTE)


def test_it_fires_when_the_scheduled_run_did_not_start_within_grace():
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 3, 1, 0, 0))
    _daily_backups_until(job, 25)

    assert transitions(rules.evaluate([job], berlin(2024, 3, 26, 2, 59))) == []
    evaluation = rules.evaluate([job], berlin(2024, 3, 26, 3, 0))

    assert transitions(evaluation) == [("firing", "NightlyBackupMissed/backup_db")]
    (alert,) = rules.book.active.values()
    assert alert.active_at == berlin(2024, 3, 26, 3, 0)


def test_it_resolves_when_the_run_starts_late():
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 3, 1, 0, 0))
    _daily_backups_until(job, 25)
    rules.evaluate([job], berlin(2024, 3, 26, 4, 0))

    start(job, "late", berlin(2024, 3, 26, 4, 5))

    assert transitions(rules.evaluate([job], berlin(2024, 3, 26, 4, 5))) == [
        ("resolved", "NightlyBackupMissed/backup_db")
    ]


def test_a_run_that_starts_a_little_early_counts():
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 3, 1, 0, 0))
    _daily_backups_until(job, 25)
    start(job, "early", berlin(2024, 3, 26, 2, 29) + 30)

    assert transitions(rules.evaluate([job], berlin(2024, 3, 26, 5, 0))) == []


def test_missed_across_the_spring_dst_change_in_berlin():
    # 2024-03-31: clocks jump from 02:00 to 03:00, so 02:30 does not exist. Like Debian's cron,
    # the job is due at 03:00 CEST; with 30m grace it is missed from 03:30 CEST.
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 3, 1, 0, 0))
    _daily_backups_until(job, 30)

    assert transitions(rules.evaluate([job], berlin(2024, 3, 31, 3, 29))) == []
    assert transitions(rules.evaluate([job], berlin(2024, 3, 31, 3, 30))) == [
        ("firing", "NightlyBackupMissed/backup_db")
    ]


def test_a_run_at_the_shifted_time_in_spring_is_on_time():
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 3, 1, 0, 0))
    _daily_backups_until(job, 30)
    start(job, "dst", berlin(2024, 3, 31, 3, 0))

    assert transitions(rules.evaluate([job], berlin(2024, 3, 31, 12, 0))) == []


def test_missed_across_the_autumn_dst_change_in_berlin_expects_one_run():
    # 2024-10-27: 02:30 happens twice (CEST, then CET). The job runs once, at the first one; the
    # second 02:30 is not another scheduled time.
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 10, 1, 0, 0))
    for day in range(20, 27):
        run_once(job, f"r{day}", berlin(2024, 10, day, 2, 30), 10 * MINUTE)
    run_once(job, "dst", berlin(2024, 10, 27, 2, 30, fold=0), 10 * MINUTE)

    for hour in (3, 4, 6, 12, 23):
        assert transitions(rules.evaluate([job], berlin(2024, 10, 27, hour, 0))) == []


def test_missing_the_run_on_the_autumn_dst_day_fires_after_the_first_0230():
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 10, 1, 0, 0))
    for day in range(20, 27):
        run_once(job, f"r{day}", berlin(2024, 10, day, 2, 30), 10 * MINUTE)

    first_0300 = berlin(2024, 10, 27, 2, 30, fold=0) + 30 * MINUTE
    assert transitions(rules.evaluate([job], first_0300 - 1)) == []
    assert transitions(rules.evaluate([job], first_0300)) == [
        ("firing", "NightlyBackupMissed/backup_db")
    ]


def test_times_before_the_job_was_known_are_not_judged():
    rules, job = engine(NIGHTLY), new_job("backup_db", at=berlin(2024, 3, 26, 10, 0))

    assert transitions(rules.evaluate([job], berlin(2024, 3, 26, 11, 0))) == []
    assert transitions(rules.evaluate([job], berlin(2024, 3, 27, 3, 0))) == [
        ("firing", "NightlyBackupMissed/backup_db")
    ]


def test_it_stays_one_alert_over_several_missed_days_and_measures_from_the_first():
    rules = engine(
        """
        rules:
          - name: Missed
            kind: missed
            schedule: "0 2 * * *"
            grace: 10m
            severity_tiers: [{after: 10m, severity: warning}, {after: 1d, severity: critical}]
        """
    )
    job = new_job("backup_db", at=T0 - 10 * DAY)
    run_once(job, "r0", T0 - DAY + 2 * HOUR, 60)  # the run of the day before T0

    rules.evaluate([job], T0 + 2 * HOUR + 10 * MINUTE)
    assert states(rules) == {"Missed/backup_db": "firing"}
    (alert,) = rules.book.active.values()
    assert alert.severity == "warning"

    evaluation = rules.evaluate([job], T0 + DAY + 2 * HOUR + 10 * MINUTE)
    assert [(t.kind, t.alert["severity"]) for t in evaluation.transitions] == [
        ("severity", "critical")
    ]


def test_interval_fires_when_there_was_no_success_within_it():
    rules = engine(
        """
        rules:
          - {name: NoRecentSuccess, kind: missed, interval: 6h}
        """
    )
    job = new_job("sync", at=T0)
    run_once(job, "r1", T0, 60)

    assert transitions(rules.evaluate([job], T0 + 60 + 6 * HOUR - 1)) == []
    assert transitions(rules.evaluate([job], T0 + 60 + 6 * HOUR)) == [
        ("firing", "NoRecentSuccess/sync")
    ]

    run_once(job, "r2", T0 + 7 * HOUR, 60)
    assert transitions(rules.evaluate([job], T0 + 7 * HOUR + 60)) == [
        ("resolved", "NoRecentSuccess/sync")
    ]


def test_interval_leaves_out_the_time_the_collector_was_down():
    """Down for 4 h after the last success, the collector could not hear the next one: the
    interval runs over the time it was up."""
    rules = engine(
        """
        rules:
          - {name: NoRecentSuccess, kind: missed, interval: 6h}
        """,
        context=Context(deaf=(T0 + HOUR, T0 + 5 * HOUR)),
    )
    job = new_job("sync", at=T0)
    run_once(job, "r1", T0, 60)

    assert transitions(rules.evaluate([job], T0 + 60 + 10 * HOUR - 1)) == []
    assert transitions(rules.evaluate([job], T0 + 60 + 10 * HOUR)) == [
        ("firing", "NoRecentSuccess/sync")
    ]


def test_for_a_pushgateway_group_a_push_stands_for_a_start():
    rules = engine(
        """
        rules:
          - {name: ExportMissed, kind: missed, schedule: "0 * * * *", grace: 5m}
        """
    )
    group = new_job("export", kind="pushgateway", at=T0 - DAY)
    push(group, T0 + 10)

    assert transitions(rules.evaluate([group], T0 + 5 * MINUTE)) == []
    assert transitions(rules.evaluate([group], T0 + HOUR + 5 * MINUTE)) == [
        ("firing", "ExportMissed/export")
    ]
