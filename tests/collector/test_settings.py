"""Settings: defaults, a YAML file, BATCHGATE_* variables and flags, in that order of
precedence; a bad value names the file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchgate.collector.settings import ConfigError, Settings, load_settings, parse_duration

CONFIG = """\
listen: 127.0.0.1:9999
data_dir: /var/lib/batchgate
runs:
  lost_after: 30m
  stuck_after: 1h
retention:
  max_age: 7d
  max_runs_per_job: 500
limits:
  max_events_per_push: 50
logging:
  format: json
"""


def files(**contents: str) -> object:
    return lambda path: contents[path]


def test_it_starts_from_embedded_defaults() -> None:
    settings = load_settings({}, {})
    assert settings == Settings()
    assert (settings.listen, settings.data_dir) == (":9091", Path("batchgate-data"))
    assert settings.runs.lost_after == 900
    assert settings.retention.max_age == 30 * 86400
    assert settings.retention.max_runs_per_job == 10_000


def test_it_reads_the_config_file() -> None:
    settings = load_settings({"config": "b.yaml"}, {}, files(**{"b.yaml": CONFIG}))
    assert (settings.host, settings.port) == ("127.0.0.1", 9999)
    assert settings.data_dir == Path("/var/lib/batchgate")
    assert (settings.runs.lost_after, settings.runs.stuck_after) == (1800, 3600)
    assert settings.retention.max_age == 7 * 86400
    assert settings.retention.max_runs_per_job == 500
    assert settings.limits.max_events == 50
    assert settings.logging.format == "json"


def test_environment_overrides_the_file_and_flags_override_both() -> None:
    read = files(**{"b.yaml": CONFIG})
    env = {"BATCHGATE_LISTEN": ":7000", "BATCHGATE_DATA_DIR": "/env"}
    settings = load_settings({"config": "b.yaml"}, env, read)
    assert (settings.port, settings.data_dir) == (7000, Path("/env"))
    settings = load_settings({"config": "b.yaml", "listen": ":8000"}, env, read)
    assert (settings.port, settings.data_dir) == (8000, Path("/env"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runs:\n  lost_after: soon\n", "b.yaml:2: runs.lost_after: invalid duration 'soon'"),
        ("retention:\n  max_runs_per_job: -3\n", "b.yaml:2: retention.max_runs_per_job: -3 is not"),
        ("runs:\n  lost_afterr: 1m\n", "b.yaml:2: runs.lost_afterr: unknown key"),
        ("listen: :9091\ncolour: red\n", "b.yaml:2: colour: unknown key"),
        ("runs: [1, 2]\n", "b.yaml:1: runs: must be a mapping"),
        ("listen: [\n", "b.yaml:2: invalid YAML"),
    ],
)
def test_it_names_file_line_and_key_of_a_bad_setting(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"config": "b.yaml"}, {}, files(**{"b.yaml": text}))
    assert str(raised.value).startswith(message), str(raised.value)


def test_it_reports_every_bad_setting_at_once_in_the_order_of_the_file() -> None:
    text = (
        "runs:\n  lost_after: soon\n  stuck_afterr: 1h\n"
        "colour: red\n"
        "retention:\n  max_runs_per_job: -3\n"
        "listen: :9091\n"
    )
    environ = {"BATCHGATE_LIMITS_MAX_JOBS": "many"}
    with pytest.raises(ConfigError) as raised:
        load_settings({"config": "b.yaml"}, environ, files(**{"b.yaml": text}))
    assert [problem.split(": ")[:2] for problem in raised.value.problems] == [
        ["environment variable BATCHGATE_LIMITS_MAX_JOBS", "limits.max_jobs"],
        ["b.yaml:2", "runs.lost_after"],
        ["b.yaml:3", "runs.stuck_afterr"],
        ["b.yaml:4", "colour"],
        ["b.yaml:6", "retention.max_runs_per_job"],
    ]
    assert str(raised.value).splitlines() == list(raised.value.problems)


def test_it_says_when_the_config_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings({"config": str(tmp_path / "missing.yaml")}, {})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5)],
)
def test_it_reads_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "5 m", "1x", "-5s", "1h-", "30m1h"])
def test_it_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_it_reads_pushgateway_expiry_and_the_route_prefix() -> None:
    text = (
        "route_prefix: /pgw/\n"
        "pushgateway:\n"
        "  expire_after: 1d\n"
        "  expire:\n"
        "    - {job: 'hourly_*', after: 3h}\n"
    )
    settings = load_settings({"config": "b.yaml"}, {}, files(**{"b.yaml": text}))
    assert settings.route_prefix == "/pgw"
    rules = settings.pushgateway.expiry_rules
    assert [(rule.job_pattern, rule.max_age) for rule in rules] == [
        ("hourly_*", 3 * 3600), ("*", 86400),
    ]  # fmt: skip
    flagged = load_settings({"pushgateway.expire_after": "2h"}, {})
    assert flagged.pushgateway.expire_after == 7200


def test_it_names_a_bad_expiry_rule() -> None:
    text = "pushgateway:\n  expire:\n    - {job: 'x', after: soon}\n"
    with pytest.raises(
        ConfigError, match=re.escape("b.yaml:2: pushgateway.expire: entry 1: after")
    ):
        load_settings({"config": "b.yaml"}, {}, files(**{"b.yaml": text}))
    with pytest.raises(ConfigError, match=re.escape("flag --push.expire-after")):
        load_settings({"pushgateway.expire_after": "soon"}, {})


def test_it_reads_auth_tokens_as_the_issue_writes_them(tmp_path: Path) -> None:
    secret = tmp_path / "batchgate-admin"
    secret.write_text("hunter2\n")
    text = f"""\
auth:
  tokens:
    - name: ci-pusher
      role: push
      jobs: ["etl_*"]
      token_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    - name: grafana
      role: read
      token_env: BATCHGATE_READ_TOKEN
    - name: oncall
      role: admin
      token_file: {secret}
"""
    reader = {"b.yaml": text}
    settings = load_settings(
        {"config": "b.yaml"},
        {"BATCHGATE_READ_TOKEN": "grafana-secret"},
        lambda path: reader[path] if path in reader else Path(path).read_text(),
    )
    assert [(t.name, t.role, t.jobs) for t in settings.tokens] == [
        ("ci-pusher", "push", ("etl_*",)), ("grafana", "read", ("*",)), ("oncall", "admin", ("*",)),
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=re.escape("b.yaml:2: auth.tokens: entry 2 (grafana)")):
        load_settings({"config": "b.yaml"}, {}, lambda path: reader[path])


def test_every_setting_has_an_environment_variable() -> None:
    settings = load_settings(
        {},
        {
            "BATCHGATE_RETENTION_MAX_AGE": "7d",
            "BATCHGATE_LIMITS_MAX_EVENTS_PER_PUSH": "10",
            "BATCHGATE_LOGGING_ACCESS_LOG": "false",
            "BATCHGATE_PUSHGATEWAY_EXPIRE_AFTER": "1h",
            "BATCHGATE_RUNS_LOST_AFTER": "5m",
        },
    )
    assert settings.retention.max_age == 7 * 86400
    assert settings.limits.max_events == 10
    assert settings.logging.access_log is False
    assert settings.pushgateway.expire_after == 3600
    assert settings.runs.lost_after == 300
    with pytest.raises(ConfigError, match="environment variable BATCHGATE_RUNS_STUCK_AFTER"):
        load_settings({}, {"BATCHGATE_RUNS_STUCK_AFTER": "soon"})
