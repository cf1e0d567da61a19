"""The server's periodic rules pass costs O(changes), not O(jobs): after its first pass (every
job), a pass looks at the jobs that changed since the last one, the jobs whose time has come
(a run reaching its stuck time, with no push), and the jobs deleted (a Pushgateway group
deleted through its API loses its alerts)."""

from __future__ import annotations

from batchgate.collector.http.keys import ALERTING
from tests.collector.alerting.conftest import StartWith
from tests.helpers import Clock, get, push

RULES = """
rules:
  - {name: Stuck, kind: stuck, no_progress_for: 10m}
  - {name: GroupSilent, kind: absent, absent_for: 1h, match: {job_kind: pushgateway}}
"""
JOBS = 40


async def test_a_pass_looks_at_the_changed_the_due_and_the_deleted_jobs(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES, evaluation_interval=3600.0)
    alerting = client.app[ALERTING]
    for index in range(JOBS):
        start = {"job": f"etl_{index}", "run_id": f"r{index}", "event": "start"}
        await push(client, {**start, "progress": {"done": 0}})
    response = await client.put("/metrics/job/nightly", data=b"rows_loaded 42\n")
    assert response.status == 200, await response.text()
    first = await alerting.evaluate_all()
    assert first.jobs_evaluated + first.jobs_skipped == JOBS + 1, "the first pass sees all"

    clock.advance(60)
    await push(
        client, {"job": "etl_7", "run_id": "r7", "event": "progress", "progress": {"done": 1}}
    )
    second = await alerting.evaluate_all()
    assert (second.jobs_evaluated, second.jobs_skipped) == (1, 0)

    # Ten minutes without progress: every run but etl_7's is stuck, though nothing was pushed.
    clock.advance(9 * 60 + 1)
    await alerting.evaluate_all()
    stuck = {a["job"] for a in (await get(client, "/alerts", alertname="Stuck"))["alerts"]}
    assert stuck == {f"etl_{index}" for index in range(JOBS) if index != 7}
    clock.advance(60)
    await alerting.evaluate_all()
    stuck = {a["job"] for a in (await get(client, "/alerts", alertname="Stuck"))["alerts"]}
    assert "etl_7" in stuck

    # The group, silent for an hour, fires; deleted through the Pushgateway API, it resolves.
    clock.advance(3600)
    await alerting.evaluate_all()
    (silent,) = (await get(client, "/alerts", alertname="GroupSilent", state="firing"))["alerts"]
    assert silent["job"] == "nightly"
    assert (await client.delete("/metrics/job/nightly")).status == 202
    await alerting.evaluate_all()
    (resolved,) = (await get(client, "/alerts", alertname="GroupSilent"))["alerts"]
    assert resolved["state"] == "resolved"
