"""The file shapes of issue 5, accepted exactly as written there."""

from batchgate.rules.kinds.schedule import Missed
from batchgate.rules.receivers import load_receivers
from batchgate.rules.ruleset import parse_rules

ISSUE_RULES = """\
# rules.yaml
rules:
  - name: JobFailed                 # becomes the alert's alertname
    match: {job: "etl_*", labels: {env: prod}}
    kind: failure
    severity: critical
    annotations: {summary: "{{ job }} failed: {{ run.message }}"}
  - name: EtlTooSlow
    match: {job: "etl_*"}
    kind: duration
    above: 2h                       # or: above_p95_factor: 2 with over_last: 20
    for: 1m
  - name: Stuck
    kind: stuck
    no_progress_for: 10m
    severity_tiers: [{after: 10m, severity: low}, {after: 30m, severity: medium}, {after: 1h, severity: high}, {after: 2h, severity: critical}]
  - name: NightlyBackupMissed
    match: {job: backup_db}
    kind: missed
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    grace: 30m
"""  # noqa: E501

ISSUE_CONFIG = """\
# batchgate.yaml, given with --config
rules_files: [rules.yaml]           # --rules FILE adds more
evaluation_interval: 5s
receivers:
  - name: ops
    webhook: {url: "http://127.0.0.1:8080/hook"}
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093"}
    match: {severity: [critical, high]}
"""


def test_the_issue_rules_file_loads_without_errors():
    rules, errors = parse_rules(ISSUE_RULES, "rules.yaml")

    assert errors == []
    assert [rule.name for rule in rules] == [
        "JobFailed",
        "EtlTooSlow",
        "Stuck",
        "NightlyBackupMissed",
    ]


def test_each_rule_means_what_it_says():
    rules, _ = parse_rules(ISSUE_RULES, "rules.yaml")
    failed, slow, stuck, missed = rules

    assert failed.match.matches("etl_daily", {"env": "prod"}, "batch")
    assert not failed.match.matches("etl_daily", {"env": "dev"}, "batch")
    assert not failed.match.matches("backup", {"env": "prod"}, "batch")
    assert failed.tiers[0].severity == "critical"
    assert slow.hold == 60.0
    assert [(tier.after, tier.severity) for tier in stuck.tiers] == [
        (600.0, "low"),
        (1800.0, "medium"),
        (3600.0, "high"),
        (7200.0, "critical"),
    ]
    assert isinstance(missed.kind, Missed)
    assert (missed.kind.timezone, missed.kind.grace) == ("Europe/Berlin", 1800.0)


def test_the_issue_receivers_load_and_other_config_keys_are_left_to_the_server():
    receivers, errors = load_receivers(ISSUE_CONFIG, "batchgate.yaml")

    assert errors == []
    ops, am = receivers
    assert (ops.integration, ops.url) == ("webhook", "http://127.0.0.1:8080/hook")
    assert (am.integration, am.url) == ("alertmanager", "http://127.0.0.1:9093/api/v2/alerts")
    assert am.match.matches({"severity": "high"})
    assert not am.match.matches({"severity": "low"})
