"""GET /events carries alert transitions (alert.pending, alert.firing, alert.severity,
alert.resolved, alert.dropped), each with the alert as GET /alerts shows it."""

from __future__ import annotations

from typing import Any

from tests.collector.alerting.conftest import StartWith
from tests.collector.http.test_events_stream import _next_event
from tests.helpers import Clock, push
from tests.openapi_check import check_response

RULES = """
rules:
  - {name: JobFailed, kind: failure, severity: critical}
  - name: Stuck
    kind: stuck
    no_progress_for: 10m
    for: 5m
    severity_tiers: [{after: 10m, severity: low}, {after: 30m, severity: high}]
"""


def _check_alert(data: Any) -> None:
    """Live alerts have the shape GET /alerts lists."""
    check_response("GET", "/alerts", 200, {"alerts": [data]})


async def test_it_streams_an_alerts_life(start_with: StartWith, clock: Clock) -> None:
    client = await start_with(rules=RULES)
    response = await client.get(
        "/events",
        params={"types": "alert.firing,alert.resolved,alert.pending,alert.severity,alert.dropped"},
    )
    await push(client, {"job": "backup", "event": "fail"})
    kind, data = await _next_event(response)
    assert (kind, data["alertname"], data["job"], data["state"]) == (
        "alert.firing",
        "JobFailed",
        "backup",
        "firing",
    )
    _check_alert(data)
    await push(client, {"job": "backup", "event": "success"})
    kind, data = await _next_event(response)
    assert (kind, data["state"]) == ("alert.resolved", "resolved")

    await push(client, {"job": "etl", "event": "start", "run_id": "e1", "progress": {"done": 1},
                        "lost_after": 86400})  # fmt: skip
    clock.advance(11 * 60)
    kind, data = await _next_event(response)
    assert (kind, data["alertname"], data["state"], data["run_id"]) == (
        "alert.pending",
        "Stuck",
        "pending",
        "e1",
    )
    clock.advance(5 * 60)
    kind, data = await _next_event(response)
    assert (kind, data["alertname"], data["severity"]) == ("alert.firing", "Stuck", "low")
    clock.advance(20 * 60)
    kind, data = await _next_event(response)
    assert (kind, data["severity"]) == ("alert.severity", "high")
    await push(client, {"job": "etl", "event": "progress", "run_id": "e1", "progress": {"done": 2}})
    kind, data = await _next_event(response)
    assert (kind, data["state"]) == ("alert.resolved", "resolved")

    clock.advance(11 * 60)
    kind, data = await _next_event(response)
    assert kind == "alert.pending"
    await push(client, {"job": "etl", "event": "progress", "run_id": "e1", "progress": {"done": 3}})
    kind, data = await _next_event(response)
    assert (kind, data["state"]) == ("alert.dropped", "pending")
    _check_alert(data)
    response.close()
