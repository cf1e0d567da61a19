"""GET /alerts: pending, firing and recently resolved alerts with their filters, held to the
OpenAPI document."""

from __future__ import annotations

from typing import Any

from tests.collector.alerting.conftest import StartWith
from tests.helpers import Clock, evaluate_rules, get, push

RULES = """
rules:
  - name: JobFailed
    kind: failure
    severity: critical
    labels: {team: data}
    annotations: {summary: "{{ job }} failed: {{ run.message }}"}
  - name: TooLong
    kind: max_runtime
    above: 1h
    for: 10m
"""


async def test_it_lists_alerts_with_their_state_and_labels(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)
    await push(client, {"job": "etl", "labels": {"env": "prod"}, "event": "start", "run_id": "e1"})
    await push(client, {"job": "backup", "event": "fail", "message": "tape jammed"})
    clock.advance(3600 + 60)
    await push(client, {"job": "etl", "labels": {"env": "prod"}, "event": "progress",
                        "run_id": "e1"})  # fmt: skip

    await evaluate_rules(client)  # the periodic pass sees the run's hour pass
    alerts = (await get(client, "/alerts"))["alerts"]
    assert [(a["alertname"], a["state"]) for a in alerts] == [
        ("JobFailed", "firing"),
        ("TooLong", "pending"),
    ]
    failed, slow = alerts
    assert failed["labels"] == {
        "alertname": "JobFailed",
        "job": "backup",
        "severity": "critical",
        "team": "data",
    }
    assert failed["annotations"] == {"summary": "backup failed: tape jammed"}
    assert (failed["severity"], failed["run_id"], failed["value"]) == ("critical", None, 1)
    assert failed["fired_at"] == failed["active_at"]
    assert failed["resolved_at"] is None
    assert (slow["job"], slow["job_labels"], slow["run_id"]) == ("etl", {"env": "prod"}, "e1")
    assert slow["labels"]["run_id"] == "e1"
    assert slow["fired_at"] is None

    await push(client, {"job": "backup", "event": "success"})
    resolved = (await get(client, "/alerts", state="resolved"))["alerts"]
    assert [(a["job"], a["state"]) for a in resolved] == [("backup", "resolved")]
    assert resolved[0]["resolved_at"] is not None


async def test_it_filters(start_with: StartWith, clock: Clock) -> None:
    client = await start_with(rules=RULES)
    for job in ("etl_a", "etl_b", "backup"):
        await push(client, {"job": job, "labels": {"env": "prod"}, "event": "fail"})

    async def jobs(**params: Any) -> list[str]:
        return sorted(a["job"] for a in (await get(client, "/alerts", **params))["alerts"])

    assert await jobs(job="etl_*") == ["etl_a", "etl_b"]
    assert await jobs(state="firing,pending") == ["backup", "etl_a", "etl_b"]
    assert await jobs(state="resolved") == []
    assert await jobs(alertname="TooLong") == []
    assert await jobs(severity="critical", job="back*") == ["backup"]
    assert await jobs(label="env=prod") == ["backup", "etl_a", "etl_b"]
    assert await jobs(label="team=ops") == []
    assert await jobs(silenced="false") == ["backup", "etl_a", "etl_b"]


async def test_it_refuses_bad_filters(start_with: StartWith) -> None:
    client = await start_with(rules=RULES)
    bad = await get(client, "/alerts", 400, state="burning")
    assert bad["details"][0]["field"] == "state"
    bad = await get(client, "/alerts", 400, silenced="maybe")
    assert bad["details"][0]["field"] == "silenced"


async def test_resolved_alerts_stay_listed_for_the_retention(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES, resolved_retention=3600.0)
    await push(client, {"job": "backup", "event": "fail"})
    await push(client, {"job": "backup", "event": "success"})
    clock.advance(3000)
    await push(client, {"job": "other", "event": "success"})
    assert len((await get(client, "/alerts"))["alerts"]) == 1
    clock.advance(601)
    await evaluate_rules(client)
    assert (await get(client, "/alerts"))["alerts"] == []
