"""Reading dashboards/grafana/batchgate.json: its panels, their PromQL, and the dashboard
variables substituted as Grafana would."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.collector.dashboard.prometheus import DASHBOARDS


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DASHBOARDS / "grafana" / "batchgate.json").read_text())
    return document


@dataclass(frozen=True)
class Query:
    panel: str
    ref: str
    expr: str
    instant: bool


def queries() -> Iterator[Query]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield Query(
                panel["title"], target["refId"], target["expr"], target.get("instant", False)
            )


def variable_queries() -> dict[str, str]:
    return {
        v["name"]: v["query"] for v in dashboard()["templating"]["list"] if v["type"] == "query"
    }


def substitute(expr: str, job: str, batchgate: str = "batchgate", metric: str = ".*") -> str:
    """The expression as Grafana sends it: `job` and `metric` are regexes (`.*` for All,
    `(a|b)` for several), built-in intervals are set as for a 24 h dashboard with 1 m
    minimum interval."""
    values = {
        "job": job,
        "metric": metric,
        "batchgate": batchgate,
        "__range": "1h",
        "__rate_interval": "1m",
        "__interval": "1m",
    }
    substituted = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)
    assert "$" not in substituted, substituted
    return substituted
