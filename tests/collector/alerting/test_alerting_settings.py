"""The config file's alerting keys: rules_files (relative to the config file, globs),
--rules, evaluation_interval, receivers, external_url, alerts, notifications; every bad value
named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchgate.collector.alerting.settings import AlertingSettings, NotificationSettings
from batchgate.collector.settings import ConfigError, load_settings

CONFIG = """\
listen: 127.0.0.1:9999
external_url: https://batchgate.example.com/
rules_files: [rules.yaml, "more/*.yaml"]
evaluation_interval: 2s
receivers:
  - name: ops
    webhook: {url: "http://127.0.0.1:8080/hook"}
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093"}
    match: {severity: [critical, high]}
alerts:
  resolved_retention: 2h
notifications:
  queue_capacity: 500
  retry_initial: 500ms
  retry_max: 1m
  give_up_after: 6h
"""


def _load(text: str, **flags: object) -> AlertingSettings:
    return load_settings({"config": "/etc/batchgate/b.yaml", **flags}, {}, lambda _: text).alerting


def test_it_reads_every_alerting_key() -> None:
    alerting = _load(CONFIG, rules=["extra.yaml"])
    assert alerting.rules_files == (
        "/etc/batchgate/rules.yaml",
        "/etc/batchgate/more/*.yaml",
        "extra.yaml",
    )
    assert alerting.rules_flags == ("extra.yaml",)
    assert alerting.evaluation_interval == 2
    assert [(r.name, r.integration, r.url) for r in alerting.receivers] == [
        ("ops", "webhook", "http://127.0.0.1:8080/hook"),
        ("am", "alertmanager", "http://127.0.0.1:9093/api/v2/alerts"),
    ]
    assert alerting.external_url == "https://batchgate.example.com"
    assert alerting.resolved_retention == 7200
    assert alerting.notifications == NotificationSettings(500, 0.5, 60, 6 * 3600)


def test_without_a_config_file_the_defaults_apply() -> None:
    alerting = load_settings({}, {}).alerting
    assert alerting == AlertingSettings()
    assert alerting.evaluation_interval == 5
    assert alerting.resolved_retention == 86400
    assert load_settings({"rules": ["r.yaml"]}, {}).alerting.rules_files == ("r.yaml",)


def test_globs_expand_when_the_rules_are_loaded(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yaml", "skip.txt"):
        (tmp_path / name).write_text("rules: []\n")
    settings = AlertingSettings(rules_files=(str(tmp_path / "*.yaml"),))
    assert settings.rule_paths() == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("evaluation_interval: 10\n", "b.yaml:1: evaluation_interval: '10' needs a unit"),
        ("external_url: ftp://x\n", "b.yaml:1: external_url: 'ftp://x' is not an http(s) URL"),
        (
            "receivers:\n  - name: ops\n    webhook: {url: nope}\n",
            "b.yaml:3: webhook.url: 'nope' is not an http(s) URL",
        ),
        ("alerts: {retention: 1h}\n", "b.yaml:1: alerts: unknown key 'retention'"),
        (
            "notifications: {retry_initial: 1m, retry_max: 1s}\n",
            "b.yaml:1: notifications: retry_max must not be shorter than retry_initial",
        ),
    ],
)
def test_it_names_the_file_and_line_of_a_bad_value(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(text)
    assert message in str(raised.value)
    assert str(raised.value).startswith("/etc/batchgate/b.yaml:")


def test_every_error_is_reported_not_only_the_first() -> None:
    with pytest.raises(ConfigError) as raised:
        _load("evaluation_interval: 10\nexternal_url: ftp://x\n")
    assert len(str(raised.value).splitlines()) == 2
