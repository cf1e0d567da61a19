"""dashboards/prometheus: promtool accepts the alerting rules and the scrape configuration,
and a real Prometheus scraping a batchgate that has seen real runs evaluates every PromQL
expression of the Grafana dashboard and of alerts.yml without error, the main panels with data."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.collector.dashboard.grafana import queries, substitute, variable_queries
from tests.collector.dashboard.prometheus import DASHBOARDS, Prometheus, running_prometheus
from tests.helpers import ServerProcess, need_program

ALERTS = DASHBOARDS / "prometheus" / "alerts.yml"

MAY_BE_EMPTY = {"Alerts of batchgate's rules"}
"""Panels whose series exist only once batchgate evaluates its own rules (batchgate_alerts)."""


def test_promtool_accepts_the_rules_and_the_scrape_configuration() -> None:
    promtool = need_program("promtool")
    scrape = DASHBOARDS / "prometheus" / "scrape.yml"
    for command in (["check", "rules", str(ALERTS)], ["check", "config", str(scrape)]):
        result = subprocess.run([promtool, *command], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def _post(url: str, body: Any) -> None:
    request = urllib.request.Request(
        f"{url}/push", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _wait(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {within:.0f}s"
        time.sleep(0.2)


def _runs(url: str, now: float) -> None:
    """Finished runs of several jobs, succeeding and failing, with durations."""
    _post(url, [
        {"job": "report", "event": "success", "duration_seconds": 30 + i, "timestamp": now}
        for i in range(3)
    ] + [
        {"job": "backup", "labels": {"host": "db2"}, "event": "fail", "duration_seconds": 5,
         "exit_code": 2, "message": "disk full", "timestamp": now},
        {"job": "nightly", "event": "success", "duration_seconds": 600, "timestamp": now},
    ])  # fmt: skip


def _has_alerts_api(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/alerts", timeout=5):
            return True
    except urllib.error.HTTPError:
        return False


def test_every_expression_evaluates_on_a_real_prometheus(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = server_process()
    now = time.time()
    _post(server.url, [
        {"job": "etl", "event": "start", "run_id": "etl-1", "progress": {"done": 40, "total": 100},
         "metrics": {"rows_per_second": 1200, "rowsPerSecond": 1, "copy_ms": 35}},
        {"job": "import", "event": "start", "run_id": "imp-1", "timestamp": now - 1200,
         "progress": {"done": 10, "total": 100}},
        {"job": "import", "event": "progress", "run_id": "imp-1", "resources": {"cpu_percent": 1}},
        {"job": "cleanup", "event": "start", "run_id": "cl-1", "timestamp": now - 2000},
        {"job": "mailer", "event": "queued", "run_id": "m-1", "queue": "emails"},
    ])  # fmt: skip
    _runs(server.url, now)
    with running_prometheus(tmp_path / "prometheus", f"127.0.0.1:{server.port}") as prometheus:
        _wait(
            lambda: bool(prometheus.query('count_over_time(up{job="batchgate"}[1m]) >= 3')),
            "three scrapes",
        )
        # Runs finishing while Prometheus watches: counters and histograms increase.
        _runs(server.url, time.time())
        _wait(
            lambda: bool(
                prometheus.query('increase(batchgate_job_runs_total{job="report"}[1m]) > 0')
            ),
            "increases of batchgate_job_runs_total",
        )
        _wait(
            lambda: bool(
                prometheus.query('ALERTS{alertname="BatchJobFailed", alertstate="firing"}')
            ),
            "BatchJobFailed firing",
        )
        _check_custom_metrics(prometheus)
        _check_dashboard(prometheus, alerts_api=_has_alerts_api(server.url))
        _check_alerting_rules(prometheus)


def _check_custom_metrics(prometheus: Prometheus) -> None:
    """Prometheus took in each custom metric of the run as a series of batchgate_job_metric,
    whatever its name (promtool would refuse rowsPerSecond or copy_ms as metric names)."""
    series = prometheus.query('batchgate_job_metric{job="etl"}')
    values = {sample["metric"]["name"]: float(sample["value"][1]) for sample in series}
    assert values == {"rows_per_second": 1200, "rowsPerSecond": 1, "copy_ms": 35}
    metadata = prometheus.api("metadata", metric="batchgate_job_metric")
    assert [entry["type"] for entry in metadata["batchgate_job_metric"]] == ["gauge"]


def _check_dashboard(prometheus: Prometheus, alerts_api: bool) -> None:
    for variable, variable_query in variable_queries().items():
        selector, label = variable_query.removeprefix("label_values(").removesuffix(")").split(", ")
        values = prometheus.api(f"label/{label}/values", **{"match[]": substitute(selector, ".*")})
        assert values, f"variable {variable} has no values"
    for query in queries():
        for job, metric in ((".*", ".*"), ("(etl|backup)", "(rows_per_second)")):
            expr = substitute(query.expr, job, metric=metric)
            instant = prometheus.query(expr)
            ranged = [] if query.instant else prometheus.query_range(expr)
            if job == ".*" and (query.panel not in MAY_BE_EMPTY or alerts_api):
                assert instant or ranged, f"{query.panel} {query.ref} has no data: {expr}"


def _check_alerting_rules(prometheus: Prometheus) -> None:
    rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    written = [r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    assert sorted(rule["name"] for rule in rules) == sorted(written)
    for rule in rules:
        assert rule["health"] == "ok", rule
        prometheus.query(rule["query"])
    firing = {
        (alert["labels"]["alertname"], alert["labels"].get("job"))
        for rule in rules
        for alert in rule["alerts"]
    }
    assert ("BatchJobFailed", "backup") in firing
    assert ("BatchJobLost", "cleanup") in firing
    assert ("BatchJobStuck", "import") in firing  # pending: it has a `for`
    assert not any(name.startswith("Batchgate") for name, _ in firing)


@pytest.fixture(autouse=True)
def _programs() -> None:
    need_program("prometheus")
