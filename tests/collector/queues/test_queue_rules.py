"""The queue rules, end to end: `wait_time`, `backlog`, `stalled` and `retry_rate` fire on a
queue (the alert names the queue as its job, labelled `queue`) and resolve; the job rules
never judge a queue, nor the queue rules a job."""

from __future__ import annotations

from typing import Any

from batchgate.rules.ruleset import parse_rules
from tests.collector.alerting.conftest import StartWith
from tests.helpers import Client, Clock, evaluate_rules, get, push

RULES = """
rules:
  - {name: SlowPickup, kind: wait_time, above: 1m, match: {job: emails}}
  - {name: SlowPickupP95, kind: wait_time, above: 30s, window: 1h, percentile: 0.95,
     match: {job: emails}}
  - {name: Backlog, kind: backlog, above: 2, match: {job: emails}}
  - {name: Stalled, kind: stalled, no_finish_for: 10m, match: {job: emails}}
  - {name: Retrying, kind: retry_rate, above: 0.5, window: 1h, min_runs: 2,
     match: {job: emails}}
  - {name: AnyFailure, kind: failure}
"""


def _event(event: str, run_id: str, **fields: object) -> dict[str, object]:
    return {"job": "send", "event": event, "run_id": run_id, "queue": "emails", **fields}


async def _firing(client: Client) -> dict[str, dict[str, Any]]:
    await evaluate_rules(client)
    alerts = (await get(client, "/alerts", state="firing"))["alerts"]
    return {alert["alertname"]: alert for alert in alerts}


async def test_a_queue_that_backs_up_stalls_and_drains(start_with: StartWith, clock: Clock) -> None:
    client = await start_with(rules=RULES)
    await push(client, [_event("queued", f"t{n}") for n in range(3)])
    firing = await _firing(client)
    assert set(firing) == {"Backlog"}
    backlog = firing["Backlog"]
    assert (backlog["job"], backlog["job_labels"], backlog["value"]) == (
        "emails", {"queue": "emails"}, 3
    )  # fmt: skip

    clock.advance(61)
    assert set(await _firing(client)) == {"Backlog", "SlowPickup"}
    clock.advance(600)
    assert set(await _firing(client)) == {"Backlog", "SlowPickup", "Stalled"}

    # The queue drains: each task is tried, retried, and succeeds.
    for n in range(3):
        await push(client, [_event("start", f"t{n}"), _event("retry", f"t{n}")])
        await push(client, [_event("start", f"t{n}"), _event("success", f"t{n}")])
    firing = await _firing(client)
    # Waits of 661 s (p95 above 30 s) and 3 retries for 3 runs (above 0.5) still count.
    assert set(firing) == {"SlowPickupP95", "Retrying"}
    assert firing["Retrying"]["value"] == 1.0
    clock.advance(3700)
    assert await _firing(client) == {}


async def test_job_rules_do_not_judge_queues_nor_queue_rules_jobs(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(
        rules="rules:\n  - {name: AnyBacklog, kind: backlog, above: 0}\n"
        "  - {name: Absent, kind: absent, absent_for: 1m}\n"
    )
    await push(client, [_event("queued", "a"), {"job": "cron", "event": "start"}])
    clock.advance(120)
    await evaluate_rules(client)
    alerts = (await get(client, "/alerts", state="firing"))["alerts"]
    # Both jobs are silent (absent), the queue is not judged so; only the queue has a backlog.
    assert sorted((a["alertname"], a["job"]) for a in alerts) == [
        ("Absent", "cron"), ("Absent", "send"), ("AnyBacklog", "emails")
    ]  # fmt: skip


def test_bad_queue_rules_are_refused_with_their_line() -> None:
    _, errors = parse_rules(
        "rules:\n"
        "  - {name: A, kind: backlog}\n"
        "  - {name: B, kind: wait_time, above: 1m, percentile: 0.9}\n"
        "  - {name: C, kind: retry_rate, above: 0.1, window: 2d}\n"
        "  - {name: D, kind: stalled}\n",
        "rules.yaml",
    )
    text = "\n".join(str(error) for error in errors)
    assert "backlog: give 'above'" in text
    assert "'percentile' needs a 'window'" in text
    assert "at most 1d" in text
    assert "no_finish_for" in text
    assert len(errors) == 4


async def test_a_backlog_the_broker_reports_fires_while_its_snapshot_is_fresh(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules="rules:\n  - {name: Backlog, kind: backlog, above: 100}\n")
    await push(client, {"event": "queue_state", "queue": "emails", "waiting": 500})
    firing = await _firing(client)
    assert (firing["Backlog"]["job"], firing["Backlog"]["value"]) == ("emails", 500)
    clock.advance(301)  # the snapshot is stale, and no run is known to wait
    assert await _firing(client) == {}
