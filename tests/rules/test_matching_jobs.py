"""Which jobs a rule applies to: globs, `re:` regexes, lists, label matchers, job kinds."""

import pytest

from batchgate.rules.matchers import compile_pattern
from tests.rules.history import ruleset


@pytest.mark.parametrize(
    ("patterns", "value", "expected"),
    [
        (["etl_*"], "etl_daily", True),
        (["etl_*"], "xetl_daily", False),
        (["etl_?"], "etl_1", True),
        (["etl_[ab]"], "etl_c", False),
        (["backup"], "backup", True),
        (["backup"], "backups", False),
        (["re:etl_(daily|weekly)"], "etl_daily", True),
        (["re:etl_(daily|weekly)"], "etl_daily_2", False),  # anchored
        (["re:etl"], "my_etl", False),
        (["a", "re:b+"], "bbb", True),
        (["a", "c*"], "cat", True),
        (["*"], "", True),
        ([""], "", True),
    ],
)
def test_patterns(patterns, value, expected):
    assert compile_pattern(patterns).matches(value) is expected


def _matching(text, name, labels=(), kind="batch"):
    (rule,) = ruleset(text).rules
    return rule.match.matches(name, dict(labels), kind)


def test_label_matchers_exact_list_and_regex():
    text = """
    rules:
      - name: A
        kind: failure
        match: {job: "etl_*", labels: {env: [prod, staging], region: "re:eu-.*"}}
    """
    assert _matching(text, "etl_x", [("env", "prod"), ("region", "eu-west")])
    assert _matching(text, "etl_x", [("env", "staging"), ("region", "eu-north")])
    assert not _matching(text, "etl_x", [("env", "dev"), ("region", "eu-west")])
    assert not _matching(text, "etl_x", [("env", "prod"), ("region", "us-east")])
    assert not _matching(text, "etl_x", [("env", "prod")])  # region absent reads as ""


def test_an_absent_label_reads_as_empty_as_in_alertmanager():
    text = "rules:\n  - {name: A, kind: failure, match: {labels: {env: ''}}}\n"

    assert _matching(text, "x", [])
    assert not _matching(text, "x", [("env", "prod")])


def test_no_match_means_every_job():
    text = "rules:\n  - {name: A, kind: failure}\n"

    assert _matching(text, "anything", [("a", "b")], "pushgateway")


def test_job_kind_selects_pushgateway_groups_or_batch_jobs():
    text = "rules:\n  - {name: A, kind: absent, absent_for: 1h, match: {job_kind: pushgateway}}\n"

    assert _matching(text, "x", kind="pushgateway")
    assert not _matching(text, "x", kind="batch")
