"""With no configuration, the default rules are in effect: a failure, a lost run (marked by
the sweep) and a stuck run alert; deleting a job resolves its alerts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from batchgate.collector.alerting.settings import AlertingSettings
from batchgate.collector.http.keys import ALERTING
from tests.helpers import Client, Clock, checked, evaluate_rules, get, push, sweep

Start = Callable[..., Awaitable[Client]]


async def _alerts(client: Client, **params: Any) -> list[tuple[str, str, str]]:
    alerts = (await get(client, "/alerts", **params))["alerts"]
    return sorted((a["alertname"], a["job"], a["state"]) for a in alerts)


async def test_a_failure_alerts_at_once(client: Client) -> None:
    await push(client, {"job": "backup", "event": "fail", "exit_code": 3, "message": "disk full"})
    (alert,) = (await get(client, "/alerts"))["alerts"]
    assert (alert["alertname"], alert["state"], alert["severity"]) == (
        "JobFailed",
        "firing",
        "warning",
    )
    assert alert["annotations"]["summary"] == "backup failed"
    assert "exit code 3" in alert["annotations"]["description"]


async def test_a_run_gone_silent_alerts_once_the_sweep_marks_it_lost(
    client: Client, clock: Clock
) -> None:
    await push(client, {"job": "etl", "event": "start", "run_id": "e1", "lost_after": 60})
    clock.advance(61)
    assert sweep(client) == 1  # as its timer would, now
    assert await _alerts(client) == [("JobLost", "etl", "firing")]
    assert (await get(client, "/runs/e1"))["status"] == "lost"


async def test_a_stuck_run_alerts(client: Client, clock: Clock) -> None:
    await push(client, {"job": "etl", "event": "start", "run_id": "e1", "lost_after": 86400,
                        "progress": {"done": 1, "total": 10}})  # fmt: skip
    clock.advance(16 * 60)
    await evaluate_rules(client)  # the periodic pass, now: progress stopped 16 minutes ago
    assert await _alerts(client) == [("JobStuck", "etl", "firing")]


async def test_progress_resolves_a_stuck_alert_within_its_push(start: Start, clock: Clock) -> None:
    """Progress is evaluated at the next pass, unless its job has alerts it may resolve."""
    client = await start(alerting=AlertingSettings(evaluation_interval=3600.0))
    await push(client, {"job": "etl", "event": "start", "run_id": "e1", "lost_after": 86400,
                        "progress": {"done": 1, "total": 10}})  # fmt: skip
    clock.advance(16 * 60)
    await client.app[ALERTING].evaluate_all()
    assert await _alerts(client) == [("JobStuck", "etl", "firing")]
    await push(client, {"job": "etl", "event": "progress", "run_id": "e1",
                        "progress": {"done": 2, "total": 10}})  # fmt: skip
    assert await _alerts(client) == [("JobStuck", "etl", "resolved")]


async def test_deleting_a_job_resolves_its_alerts(client: Client) -> None:
    await push(client, {"job": "backup", "event": "fail"})
    await checked(await client.delete("/jobs/backup"))
    assert await _alerts(client) == [("JobFailed", "backup", "resolved")]
