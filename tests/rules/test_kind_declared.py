"""kinds declared_missed, declared_deadline and declared_max_runtime — a job judged by the
schedule it declared itself; nothing in a job that declared nothing; a rule of the kind they
stand for that matches the job wins."""

from typing import Any

from batchgate.collector.core.model import Job
from batchgate.rules.declarations import Declaration, parse_declaration
from batchgate.rules.engine import RuleEngine
from batchgate.rules.ruleset import with_declared_rules
from tests.rules.history import T0, finish, new_job, ruleset, start, transitions

HOUR = 3600.0
# T0 is 2024-05-01T00:00:00Z, a tick of "0 * * * *".
NO_RULES = "rules: []"
FILE_RULES = """
rules:
  - {name: EtlMissed, kind: missed, schedule: "0 */6 * * *", match: {job: etl}}
"""


def _engine(text: str) -> RuleEngine:
    return RuleEngine(with_declared_rules(ruleset(text)))


def _declared(name: str, **declared: Any) -> Job:
    job = new_job(name, at=T0 - 10)
    job.declaration = Declaration(declared_at=T0 - 10, **declared)
    return job


def test_a_declared_schedule_missed_fires_after_its_grace_not_before() -> None:
    rules = _engine(NO_RULES)
    job = _declared("backup", cron="0 * * * *", grace=300.0)
    start(job, "r1", T0)

    assert transitions(rules.evaluate([job], T0 + HOUR + 299)) == []
    assert transitions(rules.evaluate([job], T0 + HOUR + 300)) == [
        ("firing", "JobMissedDeclaredSchedule/backup")
    ]


def test_scheduled_times_before_the_declaration_are_not_missed() -> None:
    rules = _engine(NO_RULES)
    job = new_job("backup", at=T0 - 5 * HOUR)
    job.declaration = Declaration("0 * * * *", declared_at=T0 + 60)
    job.generation += 1

    assert transitions(rules.evaluate([job], T0 + 120)) == []
    assert transitions(rules.evaluate([job], T0 + HOUR)) == [
        ("firing", "JobMissedDeclaredSchedule/backup")
    ]


def test_a_declared_max_runtime_fires_on_a_longer_run() -> None:
    rules = _engine(NO_RULES)
    job = _declared("etl", max_runtime=HOUR)
    start(job, "r1", T0, lost_after=10 * HOUR)

    assert transitions(rules.evaluate([job], T0 + HOUR - 1)) == []
    assert transitions(rules.evaluate([job], T0 + HOUR)) == [
        ("firing", "JobOverDeclaredMaxRuntime/etl/r1")
    ]


def test_a_job_that_declared_nothing_is_not_judged() -> None:
    rules = _engine(NO_RULES)
    job = new_job("plain", at=T0 - 10)
    start(job, "r1", T0, lost_after=100 * HOUR)

    assert transitions(rules.evaluate([job], T0 + 50 * HOUR)) == []


def test_a_rule_of_the_kind_matching_the_job_wins_over_its_declaration() -> None:
    rules = _engine(FILE_RULES)
    etl = _declared("etl", cron="0 * * * *", max_runtime=HOUR)
    other = _declared("other", cron="0 * * * *")

    assert [rule.name for rule in rules.rules_for(etl)] == [
        "EtlMissed",
        "JobMissedDeclaredDeadline",
        "JobOverDeclaredMaxRuntime",
    ]
    assert [rule.name for rule in rules.rules_for(other)] == [
        "JobMissedDeclaredSchedule",
        "JobMissedDeclaredDeadline",
        "JobOverDeclaredMaxRuntime",
    ]


def test_parsing_names_each_bad_part() -> None:
    names = {"cron": "c", "timezone": "z", "grace": "g", "max_runtime": "m", "finish_within": "f"}
    values = {"cron": "0 25 * * *", "timezone": "Nowhere/City", "grace": "-1", "max_runtime": "x"}
    _, errors = parse_declaration(values, names, T0)
    assert [field for field, _ in errors] == ["c", "z", "g", "m"]
    declared, errors = parse_declaration({"cron": " 0  2 * * * ", "grace": 90}, names, T0)
    assert errors == []
    assert declared == Declaration("0 2 * * *", "UTC", 90.0, None, T0)


def test_a_declared_finish_within_fires_when_no_run_succeeded_in_time() -> None:
    rules = _engine(NO_RULES)
    job = _declared("report", cron="0 * * * *", finish_within=HOUR / 2)
    start(job, "r1", T0 + 60, lost_after=10 * HOUR)

    assert transitions(rules.evaluate([job], T0 + HOUR / 2 - 1)) == []
    assert transitions(rules.evaluate([job], T0 + HOUR / 2)) == [
        ("firing", "JobMissedDeclaredDeadline/report")
    ]
    finish(job, "r1", T0 + HOUR / 2 + 60)
    assert transitions(rules.evaluate([job], T0 + HOUR / 2 + 60)) == [
        ("resolved", "JobMissedDeclaredDeadline/report")
    ]
