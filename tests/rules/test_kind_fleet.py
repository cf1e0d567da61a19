"""kind: fleet — every host of a job succeeded within a window, else one alert for the fleet
naming the missing hosts; a fleet costs its own members, not every job."""

import textwrap

from batchgate.rules.ruleset import parse_rules
from tests.rules.history import FAILED, T0, engine, new_job, run_once, states, transitions

HOUR, DAY = 3600.0, 86400.0
ALL_HOSTS = """
rules:
  - name: BackupFleet
    match: {job: backup}
    kind: fleet
    label: host
    window: 1d
"""


def _fleet(hosts, env="prod"):
    return [new_job("backup", {"host": host, "env": env}) for host in hosts]


def test_a_fleet_with_one_host_silent_fires_naming_it():
    rules = engine(ALL_HOSTS)
    db1, db2, db3 = jobs = _fleet(["db1", "db2", "db3"])
    for index, job in enumerate(jobs):
        run_once(job, "r1", T0 + index, 60)

    assert transitions(rules.evaluate(jobs, T0 + HOUR)) == []

    run_once(db1, "r2", T0 + DAY, 60)
    run_once(db2, "r2", T0 + DAY, 60)  # db3 is silent
    assert transitions(rules.evaluate(jobs, T0 + DAY + HOUR)) == [("firing", "BackupFleet/backup")]
    (alert,) = rules.book.active.values()
    assert alert.labels == {"alertname": "BackupFleet", "job": "backup", "env": "prod",
                            "severity": "warning"}  # fmt: skip
    assert alert.annotations == {"detail": "2 of 3 hosts succeeded within 1d; missing: db3"}
    assert alert.value == 2.0

    run_once(db3, "r2", T0 + DAY + 2 * HOUR, 60)
    assert transitions(rules.evaluate(jobs, T0 + DAY + 3 * HOUR)) == [
        ("resolved", "BackupFleet/backup")
    ]


def test_a_failed_run_is_not_a_success_and_fleets_are_apart_by_their_other_labels():
    rules = engine(ALL_HOSTS)
    prod = _fleet(["db1", "db2"])
    staging = _fleet(["db1", "db2"], env="staging")
    for job in (*prod, *staging):
        run_once(job, "r1", T0, 60)
    run_once(prod[1], "r2", T0 + HOUR, 60, FAILED)

    rules.evaluate([*prod, *staging], T0 + DAY + 120)
    # Both fleets' successes left the window; each is one alert of its own.
    assert len(rules.book.active) == 2
    details = sorted(a.annotations["detail"] for a in rules.book.active.values())
    assert details == ["0 of 2 hosts succeeded within 1d; missing: db1, db2"] * 2


def test_at_least_n_tolerates_fewer_than_all():
    rules = engine(ALL_HOSTS.replace("window: 1d", "window: 1d\n    at_least: 2"))
    jobs = _fleet(["a", "b", "c"])
    run_once(jobs[0], "r1", T0, 60)
    run_once(jobs[1], "r1", T0, 60)
    assert transitions(rules.evaluate(jobs, T0 + HOUR)) == []
    rules.evaluate(jobs, T0 + DAY + 61)  # both successes are older than the window now
    (alert,) = rules.book.active.values()
    assert alert.annotations["detail"] == "0 of 2 hosts succeeded within 1d; missing: a, b, c"


def test_the_fleet_is_judged_again_when_a_success_leaves_the_window_without_any_event():
    rules = engine(ALL_HOSTS)
    jobs = _fleet(["db1", "db2"])
    run_once(jobs[0], "r1", T0, 60)
    run_once(jobs[1], "r1", T0 + HOUR, 60)
    rules.evaluate(jobs, T0 + 2 * HOUR)

    assert transitions(rules.evaluate(jobs, T0 + DAY + 59)) == []
    assert transitions(rules.evaluate(jobs, T0 + DAY + 61)) == [("firing", "BackupFleet/backup")]


def test_a_change_costs_its_fleet_and_a_deleted_host_leaves_it():
    rules = engine(ALL_HOSTS)
    jobs = [new_job("backup", {"host": f"h{index}"}) for index in range(2000)]
    for job in jobs:
        run_once(job, "r1", T0, 60)
    rules.evaluate(jobs, T0 + HOUR)
    evaluation = rules.evaluate_job(jobs[7], T0 + HOUR + 1)
    assert evaluation.jobs_evaluated == 1

    silent = new_job("backup", {"host": "never"})
    rules.evaluate([*jobs, silent], T0 + 2 * HOUR)
    assert states(rules) == {"BackupFleet/backup": "firing"}
    (alert,) = rules.book.active.values()
    assert alert.annotations["detail"].endswith("missing: never")
    assert transitions(rules.evaluate(jobs, T0 + 3 * HOUR)) == [("resolved", "BackupFleet/backup")]


def test_every_mistake_is_reported_with_its_line():
    _, errors = parse_rules(
        textwrap.dedent(
            """
            rules:
              - {name: A, kind: fleet, window: 1d}
              - {name: B, kind: fleet, label: host}
              - {name: C, kind: fleet, label: host, window: 1d, at_least: some}
              - {name: D, kind: fleet, label: host, window: 1d, at_least: 0}
            """
        ),
        "rules.yaml",
    )
    assert [str(error) for error in sorted(errors)] == [
        "rules.yaml:3: rule 'A' (fleet): missing required key 'label'",
        "rules.yaml:4: rule 'B' (fleet): missing required key 'window'",
        "rules.yaml:5: at_least must be a whole number",
        "rules.yaml:6: at_least must be between 1 and 100000",
    ]


def test_a_busy_fleet_keeps_a_bounded_memory_of_when_to_look_again():
    rules = engine(ALL_HOSTS)
    jobs = _fleet(["a", "b", "c"])
    at = T0
    for index in range(3000):  # the members succeed in turn, every minute, for two days
        at += 60
        run_once(jobs[index % 3], f"r{index}", at, 1)
        rules.evaluate_job(jobs[index % 3], at + 1)
    assert len(rules._fleets._due) <= 2 * len(rules._fleets._next) + 64
    assert rules.book.active == {}
