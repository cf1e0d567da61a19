"""A broken rules file: every error is reported at once, each with its file and line."""

import pytest

from batchgate.rules.errors import ConfigError, ConfigErrors
from batchgate.rules.kinds import KINDS
from batchgate.rules.ruleset import check_files, load_rules, parse_rules

BROKEN = """\
rules:
  - name: Good
    kind: failure
  - name: Typo
    kind: stuck
    no_progres_for: 10m
  - name: UnknownKind
    kind: stuk
  - name: BadDuration
    kind: duration
    above: 2 hours
    for: 10
  - kind: failure
  - name: BadLabels
    kind: failure
    labels: {severity: high, team: data}
  - name: Good
    kind: failure
"""


def _errors(text):
    _, errors = parse_rules(text, "broken.yaml")
    return [(error.line, error.reason) for error in sorted(errors)]


def test_all_errors_are_reported_with_their_lines():
    assert _errors(BROKEN) == [
        (4, "rule 'Typo' (stuck): missing required key 'no_progress_for'"),
        (6, "rule 'Typo' (stuck): unknown key 'no_progres_for' (did you mean 'no_progress_for'?)"),
        (
            8,
            f"kind: unknown kind 'stuk' (one of: {', '.join(KINDS)})",
        ),
        (11, "above: invalid duration '2 hours': use a number and a unit, e.g. 30s, 10m, 2h, 1d"),
        (12, "for: '10' needs a unit, e.g. 10s or 10m"),
        (13, "rule: missing required key 'name'"),
        (16, "labels: 'severity' is set by batchgate and cannot be set by a rule"),
        (17, "rule 'Good': duplicate name (first at line 2)"),
    ]


def test_invalid_yaml_is_reported_at_its_line():
    assert _errors("rules:\n  - name: A\n    kind: [failure\n") == [
        (
            4,
            "invalid YAML: while parsing a flow sequence "
            "expected ',' or ']', but got '<stream end>'",
        )
    ]


def test_a_duplicate_key_is_an_error_not_a_silent_override():
    assert _errors("rules:\n  - name: A\n    kind: failure\n    kind: stuck\n") == [
        (4, "rule: duplicate key 'kind' (first at line 3)"),
    ]


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("kind: missed\n    schedule: '61 * * * *'", "schedule: invalid cron expression"),
        (
            "kind: missed\n    schedule: '0 2 * * *'\n    timezone: Mars/Olympus",
            "unknown time zone",
        ),
        ("kind: missed\n    schedule: '0 2 * * *'\n    interval: 1h", "exactly one of"),
        ("kind: missed\n    interval: 1h\n    timezone: UTC", "only used with 'schedule'"),
        ("kind: duration\n    above: 1h\n    above_p95_factor: 2", "exactly one of"),
        ("kind: failure_rate\n    above: 150%\n    window: 1d", "between 0 and 1"),
        ("kind: consecutive_failures\n    count: 0", "between 1 and 30"),
        ("kind: resource\n    metric: memory_bytes\n    above: 2 gigs", "invalid size"),
        ("kind: failure\n    statuses: [failed, exploded]", "'exploded' not one of"),
        ("kind: failure\n    match: {job: 're:etl_('}", "invalid regular expression"),
        ("kind: failure\n    match: {jobs: etl}", "unknown key 'jobs' (did you mean 'job'?)"),
        ("kind: failure\n    match: {job_kind: cron}", "'cron' not one of batch, pushgateway"),
        (
            "kind: failure\n    severity: high\n    severity_tiers: [{after: 0s, severity: low}]",
            "not both",
        ),
        (
            "kind: failure\n    severity_tiers: "
            "[{after: 1h, severity: a}, {after: 1m, severity: b}]",
            "'after' must increase",
        ),
        ("kind: failure\n    labels: {bad-name: x}", "not a valid label name"),
    ],
)
def test_each_invalid_value_is_named(snippet, reason):
    errors = _errors(f"rules:\n  - name: R\n    {snippet}\n")

    assert errors, snippet
    assert any(reason in text for _, text in errors), errors


def test_load_rules_raises_with_every_error_and_loads_nothing(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("rules:\n  - {name: A, kind: failure}\n")
    bad.write_text(BROKEN)

    with pytest.raises(ConfigErrors) as raised:
        load_rules([good, bad])

    assert len(raised.value.errors) == 8
    assert str(raised.value).startswith(f"{bad}:4: ")


def test_a_rule_name_used_in_two_files_is_an_error_in_the_second(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("rules:\n  - {name: A, kind: failure}\n")
    second.write_text("rules:\n\n  - {name: A, kind: stuck, no_progress_for: 1m}\n")

    assert check_files([first, second]) == [
        ConfigError(str(second), 3, f"rule 'A': duplicate name (first at {first}:2)")
    ]


def test_an_unreadable_file_is_an_error_at_line_0(tmp_path):
    missing = tmp_path / "missing.yaml"

    assert check_files([missing]) == [
        ConfigError(str(missing), 0, "cannot read: No such file or directory")
    ]


def test_an_empty_file_or_list_holds_no_rules():
    assert parse_rules("", "empty.yaml") == ([], [])
    assert parse_rules("rules: []\n", "empty.yaml") == ([], [])


def test_an_unknown_top_level_key_is_an_error():
    assert _errors("groups: []\n") == [
        (1, "rules file: missing key 'rules' (a list of rules)"),
        (1, "rules file: unknown key 'groups' (expected one of: inhibit_rules, rules)"),
    ]


def test_a_duplicate_name_is_reported_when_either_rule_has_other_errors_too():
    text = """rules:
  - name: Backup
    match: {job: backup}
    kind: failure
    severity: loud
  - name: Backup
    kind: failure
  - name: Backup
    kind: nonsense
"""
    _, errors = parse_rules(text, "r.yaml")
    duplicates = [(e.line, e.reason) for e in errors if "duplicate name" in e.reason]
    assert duplicates == [
        (6, "rule 'Backup': duplicate name (first at line 2)"),
        (8, "rule 'Backup': duplicate name (first at line 2)"),
    ]
