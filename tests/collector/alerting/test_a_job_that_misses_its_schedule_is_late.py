"""A job whose scheduled run did not start is `late` (a derived status of the design), from the
end of its `missed` rule's grace until a run starts: in /jobs, /summary, /metrics and the
dashboard."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from batchgate.collector.http.keys import ALERTING
from tests.collector.alerting.conftest import StartWith
from tests.collector.pushgateway.test_pushgateway_clients import labels, scrape
from tests.helpers import Client, Clock, checked, get, push

# The clock starts at 2023-11-14T22:13:20Z: the next hourly tick is 23:00.
TO_NEXT_TICK = 46 * 60 + 40

RULES = """
rules:
  - {name: BackupMissed, kind: missed, schedule: "0 * * * *", grace: 5m, match: {job: backup}}
  - {name: SyncMissed, kind: missed, interval: 1h, match: {job: sync}}
  - {name: GroupMissed, kind: missed, schedule: "0 * * * *", match: {job: nightly}}
"""


async def _status(client: Client, job: str) -> str:
    """The job's status after a rules pass (the service runs one every few seconds)."""
    await client.app[ALERTING].evaluate_all()
    (shown,) = (await get(client, "/jobs", q=job))["jobs"]
    return shown["status"]  # type: ignore[no-any-return]


async def _schedule_line(client: Client, job: str) -> str:
    """What the job page says of the job's schedule, as text."""
    page = await (await client.get(f"/ui/jobs/{job}")).text()
    (line,) = re.findall(r'<p class="schedule">(.*?)</p>', page, re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", "", line).split())


async def test_a_scheduled_run_that_does_not_start_makes_its_job_late_until_one_starts(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)
    await push(client, {"job": "backup", "event": "success", "duration_seconds": 60})
    clock.advance(TO_NEXT_TICK + 299)
    assert await _status(client, "backup") == "succeeded", "still within its grace"
    clock.advance(2)
    assert await _status(client, "backup") == "late"

    late: dict[str, Any] = await get(client, "/jobs", status="late")
    assert [job["job"] for job in late["jobs"]] == ["backup"]
    assert late["jobs"][0]["late_since"] == "2023-11-14T23:00:00.000Z"
    assert (await get(client, "/summary"))["jobs_by_status"]["late"] == 1
    series = await scrape(client)
    statuses = {dict(key)["status"] for name, key in series if name == "batchgate_job_status"}
    assert statuses == {"late"}
    assert series[("batchgate_job_status", labels(job="backup", status="late"))] == 1
    page = await (await client.get("/ui/jobs", params={"status": "late"})).text()
    assert 'href="ui/jobs/backup"' in page
    assert "status-late" in page
    assert "a run was due" in page
    overview = await (await client.get("/")).text()
    attention = overview[overview.index("Needs attention") :]
    assert 'href="ui/jobs/backup"' in attention
    assert "a run was due" in attention

    await client.close()
    client = await start_with(rules=RULES)
    assert await _status(client, "backup") == "late", "the first pass after a restart"

    await push(client, {"job": "backup", "event": "start", "run_id": "b2"})
    (job,) = (await get(client, "/jobs", q="backup"))["jobs"]
    assert (job["status"], job["late_since"]) == ("running", None), "at once"
    await push(client, {"job": "backup", "event": "fail", "run_id": "b2"})
    assert await _status(client, "backup") == "failed"


async def test_a_job_shows_what_its_missed_rules_expect_and_when_its_next_run_is_due(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)
    await push(client, {"job": "backup", "event": "success", "duration_seconds": 60})
    await push(client, {"job": "sync", "event": "success", "duration_seconds": 5})
    (backup,) = (await get(client, "/jobs/backup"))["label_sets"]
    assert backup["schedules"] == [
        {
            "rule": "BackupMissed",
            "schedule": "0 * * * *",
            "timezone": "UTC",
            "interval_seconds": None,
            "grace_seconds": 300.0,
            "next_due_at": "2023-11-14T23:00:00.000Z",
            "declared": False,
        }
    ]
    (sync,) = (await get(client, "/jobs/sync"))["label_sets"]
    assert [(s["rule"], s["interval_seconds"], s["next_due_at"]) for s in sync["schedules"]] == [
        ("SyncMissed", 3600.0, "2023-11-14T23:13:20.000Z")  # an hour after its success
    ]
    assert await _schedule_line(client, "backup") == (
        "runs 0 * * * * (UTC), 5 min 00 s grace; next run due in 47 min (rule BackupMissed)"
    )
    clock.advance(TO_NEXT_TICK + 301)
    await client.app[ALERTING].evaluate_all()
    assert await _schedule_line(client, "backup") == (
        "runs 0 * * * * (UTC), 5 min 00 s grace; a run was due 5 min ago, "
        "the next is due in 55 min (rule BackupMissed)"
    )
    await push(client, {"job": "adhoc", "event": "success", "duration_seconds": 1})
    (adhoc,) = (await get(client, "/jobs/adhoc"))["label_sets"]
    assert adhoc["schedules"] == [], "no missed rule matches it"


async def test_with_an_interval_a_run_that_failed_is_failed_and_no_run_at_all_is_late(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)
    await push(client, {"job": "sync", "event": "success", "duration_seconds": 5})
    clock.advance(3000)
    await push(client, {"job": "sync", "event": "fail", "duration_seconds": 5})
    clock.advance(1200)  # 70 minutes without a success: the rule fires
    assert await _status(client, "sync") == "failed", "it ran; it failed"
    firing = (await get(client, "/alerts", state="firing"))["alerts"]
    assert [alert["alertname"] for alert in firing] == ["SyncMissed"]
    clock.advance(3600)  # and then no run for an hour and more
    assert await _status(client, "sync") == "late"
    assert await _schedule_line(client, "sync") == (
        "succeeds every 1 h 00 min; a run was due 20 min ago (rule SyncMissed)"
    )


async def test_a_pushgateway_group_not_pushed_on_schedule_is_late_until_its_next_push(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)

    async def push_group() -> None:
        response = await client.put("/metrics/job/nightly", data=b"rows 42\n")
        assert response.status == 200, await response.text()

    await push_group()
    clock.advance(TO_NEXT_TICK + 1)
    assert await _status(client, "nightly") == "late"
    await push_group()
    (job,) = (await get(client, "/jobs", q="nightly"))["jobs"]
    assert job["status"] == "succeeded", "at once, not at the next pass"


async def test_a_job_is_no_longer_late_once_a_reload_removes_its_rule(
    start_with: StartWith, clock: Clock, tmp_path: Path
) -> None:
    client = await start_with(rules=RULES)
    await push(client, {"job": "backup", "event": "success", "duration_seconds": 60})
    clock.advance(TO_NEXT_TICK + 301)
    assert await _status(client, "backup") == "late"
    (tmp_path / "rules.yaml").write_text("rules: []\n")  # the file start_with wrote
    await checked(await client.post("/-/reload"))
    assert await _status(client, "backup") == "succeeded"
