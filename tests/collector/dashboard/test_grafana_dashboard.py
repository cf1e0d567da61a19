"""dashboards/grafana/batchgate.json is an importable Grafana dashboard: a Prometheus
datasource variable, a job variable, every panel on that datasource, the panels the
issue asks for, and only metric names batchgate exposes."""

from __future__ import annotations

import re

from tests.collector.dashboard.grafana import dashboard, queries, variable_queries
from tests.helpers import REPO

ASKED_FOR = {
    "Jobs by status", "Job status", "Status over time", "Progress of running jobs",
    "Runs in flight", "Success rate", "Success rate by job", "Duration p50 and p95",
    "Failures over time", "Time since last success", "Firing alerts", "batchgate up",
    "Push latency", "Custom metric: $metric",
}  # fmt: skip


def test_it_has_a_datasource_variable_and_a_job_variable() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    job = variables["job"]
    assert job["type"] == "query"
    assert (job["multi"], job["includeAll"], job["allValue"]) == (True, True, ".*")
    assert (
        variable_queries()["job"] == "label_values(batchgate_job_last_seen_timestamp_seconds, job)"
    )


def test_custom_metrics_have_a_variable_and_a_panel_for_each_chosen() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    metric = variables["metric"]
    assert (metric["multi"], metric["includeAll"], metric["allValue"]) == (True, True, ".*")
    assert variable_queries()["metric"] == 'label_values(batchgate_job_metric{job=~"$job"}, name)'
    (panel,) = [p for p in dashboard()["panels"] if p["title"] == "Custom metric: $metric"]
    assert panel["repeat"] == "metric"  # a panel per name: each its own quantity and axis
    (target,) = panel["targets"]
    assert target["expr"] == 'batchgate_job_metric{job=~"$job", name=~"$metric"}'


def test_every_panel_uses_the_datasource_variable_and_has_a_place() -> None:
    ids = set()
    for panel in dashboard()["panels"]:
        assert panel["id"] not in ids
        ids.add(panel["id"])
        grid = panel["gridPos"]
        assert 0 <= grid["x"] < grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["refId"]
            assert target["expr"]
    titles = {panel["title"] for panel in dashboard()["panels"]}
    assert titles >= ASKED_FOR


def test_it_uses_only_metrics_batchgate_documents() -> None:
    documented = set(re.findall(r"`(batchgate_\w+)", (REPO / "docs" / "metrics.md").read_text()))
    documented |= {f"{name}_bucket" for name in documented}
    documented |= {"batchgate_alerts"}  # firing alerts, documented with alerting
    used = {name for q in queries() for name in re.findall(r"batchgate_\w+", q.expr)}
    used |= {name for q in variable_queries().values() for name in re.findall(r"batchgate_\w+", q)}
    assert used - documented == set()
