"""kind: outcome — assertions on a finished run: too fast, too little, too many errors."""

import textwrap

from batchgate.rules.ruleset import parse_rules
from tests.rules.history import (
    FAILED,
    T0,
    engine,
    finish,
    new_job,
    progress,
    run_once,
    start,
    states,
    transitions,
)

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
BACKUP = """
rules:
  - name: BackupTooSmall
    match: {job: backup}
    kind: outcome
    duration: {below: 1m}
    done: {below: 1000}
    errors: {above: 0}
    metrics: {bytes_written: {below: 1MB}}
    severity_tiers: [{after: 0s, severity: warning}, {after: 12h, severity: critical}]
"""


def _backup(job, run_id, at, duration, *, done=None, errors=None, written=None, status=None):
    start(job, run_id, at)
    run = job.running[run_id]
    if done is not None or errors is not None:
        progress(job, run_id, at + 1, done=done)
        run.readings.errors = errors
    if written is not None:
        progress(job, run_id, at + 1, metrics={"bytes_written": written})
    return finish(job, run_id, at + duration, status or "succeeded")


def _alert(rules):
    (alert,) = rules.book.active.values()
    return alert


def test_a_backup_that_succeeds_empty_in_two_seconds_fires_naming_what_failed():
    rules, job = engine(BACKUP), new_job("backup")
    _backup(job, "r1", T0, 2, done=0, errors=0, written=0)

    assert transitions(rules.evaluate([job], T0 + 2)) == [("firing", "BackupTooSmall/backup/r1")]
    alert = _alert(rules)
    assert alert.value == 2.0  # the first failed assertion's value: the duration
    assert alert.annotations == {
        "detail": "duration 2s below 1m; done 0 below 1000; metrics.bytes_written 0 below 1e+06"
    }
    assert alert.labels["run_id"] == "r1"


def test_a_good_run_passes_and_the_next_good_run_resolves_a_bad_one():
    rules, job = engine(BACKUP), new_job("backup")
    _backup(job, "r1", T0, 20 * MINUTE, done=5000, errors=0, written=3e9)
    assert transitions(rules.evaluate([job], T0 + HOUR)) == []

    _backup(job, "r2", T0 + DAY, 20 * MINUTE, done=5000, errors=3, written=3e9)
    assert transitions(rules.evaluate([job], T0 + DAY + HOUR)) == [
        ("firing", "BackupTooSmall/backup/r2")
    ]
    assert _alert(rules).annotations == {"detail": "errors 3 above 0"}
    assert _alert(rules).value == 3.0

    start(job, "r3", T0 + DAY + 2 * HOUR)  # a run under way does not clear the last result
    assert transitions(rules.evaluate([job], T0 + DAY + 2 * HOUR)) == []
    job.running.clear()
    _backup(job, "r3", T0 + 2 * DAY, 20 * MINUTE, done=5000, errors=0, written=3e9)
    assert transitions(rules.evaluate([job], T0 + 2 * DAY + HOUR)) == [
        ("resolved", "BackupTooSmall/backup/r2")
    ]


def test_a_run_that_reports_no_records_did_not_do_enough_but_reports_no_errors():
    rules, job = engine(BACKUP), new_job("backup")
    _backup(job, "r1", T0, 20 * MINUTE, written=3e9)  # neither done nor errors reported

    rules.evaluate([job], T0 + HOUR)
    assert _alert(rules).annotations == {"detail": "done not reported (must not be below 1000)"}


def test_a_failed_run_is_the_failure_kinds_business_unless_statuses_say_otherwise():
    rules, job = engine(BACKUP), new_job("backup")
    _backup(job, "r1", T0, 2, done=0, status=FAILED)
    assert transitions(rules.evaluate([job], T0 + HOUR)) == []

    rules = engine(
        """
        rules:
          - {name: Short, kind: outcome, duration: {below: 1m}, statuses: [succeeded, failed]}
        """
    )
    assert transitions(rules.evaluate([job], T0 + HOUR)) == [("firing", "Short/backup/r1")]


def test_its_severity_rises_while_the_bad_result_stands():
    rules, job = engine(BACKUP), new_job("backup")
    _backup(job, "r1", T0, 2, done=0, errors=0, written=0)
    rules.evaluate([job], T0 + 2)
    assert _alert(rules).severity == "warning"

    evaluation = rules.evaluate([job], T0 + 2 + 12 * HOUR)
    assert [t.kind for t in evaluation.transitions] == ["severity"]
    assert _alert(rules).severity == "critical"


def test_a_custom_metric_above_its_limit_fires_with_its_value():
    rules = engine(
        """
        rules:
          - {name: TooManyRejected, kind: outcome, metrics: {rows_rejected: {above: 100}}}
        """
    )
    job = new_job("etl")
    start(job, "r1", T0)
    progress(job, "r1", T0 + 5, metrics={"rows_rejected": 250})
    finish(job, "r1", T0 + 10)

    rules.evaluate([job], T0 + 10)
    assert states(rules) == {"TooManyRejected/etl/r1": "firing"}
    assert _alert(rules).value == 250.0
    assert _alert(rules).annotations == {"detail": "metrics.rows_rejected 250 above 100"}


def test_templates_see_the_detail_and_a_template_named_detail_wins():
    rules = engine(
        """
        rules:
          - name: Short
            kind: outcome
            duration: {below: 1m}
            annotations: {summary: "{{ job }}: {{ detail }}"}
        """
    )
    job = new_job("etl")
    run_once(job, "r1", T0, 5)
    rules.evaluate([job], T0 + 5)
    assert _alert(rules).annotations == {
        "detail": "duration 5s below 1m",
        "summary": "etl: duration 5s below 1m",
    }


def _errors(text):
    _, errors = parse_rules(textwrap.dedent(text), "rules.yaml")
    return [str(error) for error in sorted(errors)]


def test_every_mistake_is_reported_with_its_line():
    assert _errors(
        """
        rules:
          - name: A
            kind: outcome
          - name: B
            kind: outcome
            duration: {below: 10}
            done: {under: 5}
            errors: {above: many}
            metrics: {bytes: 5}
            statuses: [finished]
          - name: C
            kind: outcome
            memory_bytes: {below: 2 lots}
            percent: {}
            total: {below: 10, above: 5}
        """
    ) == [
        "rules.yaml:3: outcome: give at least one assertion "
        "(duration, percent, done, total, errors, cpu_percent, memory_bytes, io_read_bytes, "
        "io_write_bytes or metrics)",
        "rules.yaml:7: duration.below: '10' needs a unit, e.g. 10s or 10m",
        "rules.yaml:8: done: unknown key 'under' (expected one of: above, below)",
        "rules.yaml:9: errors.above must be a number",
        "rules.yaml:10: metrics.bytes must be a mapping",
        "rules.yaml:11: statuses: 'finished' not one of succeeded, failed, cancelled, lost",
        "rules.yaml:14: memory_bytes.below: invalid size '2 lots': use a number and a unit, "
        "e.g. 512MiB or 2GB",
        "rules.yaml:15: percent: give 'below', 'above' or both",
        "rules.yaml:16: total: 'below' 10 is over 'above' 5: every run fails",
    ]
