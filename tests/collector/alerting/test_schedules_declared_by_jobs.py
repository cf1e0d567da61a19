"""A job declares its own schedule, grace and max runtime (issue 21): stored with the job,
restored after a restart, shown in GET /jobs/{job} and on its page, audited when it changes,
and judged with no rules file, unless a rules file has a rule of that kind for the job."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from batchgate.collector.auth import ADMIN, PUSH, Token
from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client, Clock, evaluate_rules, get, push

# The clock starts at 2023-11-14T22:13:20Z: the next hourly tick is 23:00.
TO_NEXT_TICK = 46 * 60 + 40
HOURLY = {"cron": "0 * * * *", "timezone": "Europe/Berlin", "grace": "5m", "max_runtime": "2h"}


async def _alerts(client: Client) -> list[tuple[str, str, str]]:
    await evaluate_rules(client)
    return sorted(
        (alert["alertname"], alert["job"], alert["state"])
        for alert in (await get(client, "/alerts"))["alerts"]
        if alert["state"] != "resolved"
    )


async def _schedule_lines(client: Client, job: str) -> list[str]:
    """What the job's page says of its schedules, as text."""
    page = await (await client.get(f"/ui/jobs/{job}")).text()
    lines = re.findall(r'<p class="schedule">(.*?)</p>', page, re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", "", line).split()) for line in lines]


async def _detail(client: Client, job: str, **params: Any) -> dict[str, Any]:
    """GET /jobs/{job}: its (one) label set."""
    (shown,) = (await get(client, f"/jobs/{job}", **params))["label_sets"]
    return shown  # type: ignore[no-any-return]


async def test_a_declared_schedule_survives_a_restart_and_a_missed_run_alerts(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with()  # no rules file: the default rules
    await push(client, {"job": "backup", "event": "start", "schedule": HOURLY})
    await push(client, {"job": "backup", "event": "success"})
    await client.close()

    client = await start_with()
    shown = await _detail(client, "backup")
    assert shown["schedule"] == {
        "cron": "0 * * * *",
        "timezone": "Europe/Berlin",
        "grace_seconds": 300.0,
        "max_runtime_seconds": 7200.0,
        "finish_within_seconds": None,
        "declared_at": "2023-11-14T22:13:20.000Z",
    }
    (expected,) = shown["schedules"]
    assert expected["rule"] == "JobMissedDeclaredSchedule"
    assert expected["declared"]
    assert expected["next_due_at"] == "2023-11-14T23:00:00.000Z"

    clock.advance(TO_NEXT_TICK + 299)  # 23:04:59, within the grace
    assert await _alerts(client) == []
    clock.advance(1)
    assert await _alerts(client) == [("JobMissedDeclaredSchedule", "backup", "firing")]
    assert (await get(client, "/jobs", q="backup"))["jobs"][0]["status"] == "late"
    assert await _schedule_lines(client, "backup") == [
        "runs 0 * * * * (Europe/Berlin), 5 min 00 s grace; a run was due 5 min ago, "
        "the next is due in 55 min (declared by the job)",
        "a run may take up to 2 h 00 min (declared by the job)",
    ]

    await push(client, {"job": "backup", "event": "start"})  # late, but it ran
    assert await _alerts(client) == []


async def test_a_run_longer_than_its_declared_max_runtime_alerts(
    client: Client, clock: Clock
) -> None:
    declaring = {"max_runtime": "1h"}
    # lost_after: a silent run is still running (a lost one is not judged by its runtime).
    await push(client, {"job": "etl", "event": "start", "lost_after": 86400, "schedule": declaring})

    clock.advance(3599)
    assert await _alerts(client) == []
    clock.advance(1)
    assert await _alerts(client) == [("JobOverDeclaredMaxRuntime", "etl", "firing")]
    await push(client, {"job": "etl", "event": "success"})
    assert await _alerts(client) == []


async def test_a_run_that_did_not_succeed_within_its_declared_deadline_alerts(
    client: Client, clock: Clock
) -> None:
    declaring = {"cron": "0 * * * *", "finish_within": "30m"}
    await push(
        client, {"job": "report", "event": "start", "lost_after": 86400, "schedule": declaring}
    )
    clock.advance(TO_NEXT_TICK + 60)  # 23:01: the 23:00 run starts
    await push(client, {"job": "report", "event": "start", "lost_after": 86400})

    clock.advance(29 * 60 - 1)
    assert await _alerts(client) == []
    clock.advance(1)  # 23:30, and it has not succeeded
    assert await _alerts(client) == [("JobMissedDeclaredDeadline", "report", "firing")]
    await push(client, {"job": "report", "event": "success"})
    assert await _alerts(client) == []


async def test_a_rules_file_rule_of_the_kind_wins_for_the_jobs_it_matches(
    start_with: StartWith, clock: Clock
) -> None:
    rules = """
rules:
  - {name: BackupTooLong, kind: max_runtime, above: 3h, match: {job: backup}}
"""
    client = await start_with(rules=rules)
    for job in ("backup", "report"):
        declaring = {"max_runtime": "1h"}
        await push(
            client, {"job": job, "event": "start", "lost_after": 86400, "schedule": declaring}
        )

    clock.advance(2 * 3600)
    assert await _alerts(client) == [("JobOverDeclaredMaxRuntime", "report", "firing")]
    clock.advance(3600)
    assert await _alerts(client) == [
        ("BackupTooLong", "backup", "firing"),
        ("JobOverDeclaredMaxRuntime", "report", "firing"),
    ]


async def test_the_latest_declaration_wins_and_each_change_is_audited(
    client: Client, clock: Clock
) -> None:
    await push(client, {"job": "backup", "event": "start", "schedule": {"cron": "0 2 * * *"}})
    await push(client, {"job": "backup", "event": "success", "schedule": {"cron": "0 2 * * *"}})
    clock.advance(60)
    changed = {"cron": "30 3 * * *", "timezone": "Europe/Berlin", "grace": 600}
    await push(client, {"job": "backup", "event": "start", "schedule": changed})

    shown = (await _detail(client, "backup"))["schedule"]
    assert (shown["cron"], shown["timezone"], shown["grace_seconds"]) == (
        "30 3 * * *",
        "Europe/Berlin",
        600.0,
    )
    entries = [e for e in (await get(client, "/audit"))["entries"] if e["action"] == "job.declare"]
    assert [(e["who"], e["target"], e["details"]) for e in entries] == [
        (
            "anonymous",
            "backup",
            {"declared": "30 3 * * * (Europe/Berlin), grace 10m", "previous": "0 2 * * * (UTC)"},
        ),
        ("anonymous", "backup", {"declared": "0 2 * * * (UTC)", "previous": None}),
    ]


async def _refused(client: Client, body: Any) -> list[tuple[str, str]]:
    answer = await push(client, body, expect=400)
    return [(error["field"], error["reason"]) for error in answer["details"]]


async def test_bad_declarations_are_refused_naming_the_field_and_nothing_is_stored(
    client: Client,
) -> None:
    start = {"job": "backup", "event": "start"}
    assert await _refused(client, {**start, "schedule": {"cron": "61 * * * *"}}) == [
        ("schedule.cron", "invalid cron expression '61 * * * *': Bad minute")
    ]
    assert await _refused(client, {**start, "schedule": {"cron": "0 2 * *"}}) == [
        ("schedule.cron", "'0 2 * *' must have 5 fields (m h dom mon dow)")
    ]
    assert await _refused(
        client, {**start, "schedule": {"cron": "0 2 * * *", "timezone": "Mars/Olympus"}}
    ) == [("schedule.timezone", "unknown time zone 'Mars/Olympus'")]
    assert await _refused(client, {**start, "schedule": {"max_runtime": "soon"}}) == [
        ("schedule.max_runtime", "'soon' is not a duration such as '30m', '2h' or seconds")
    ]
    assert await _refused(client, {**start, "schedule": {"grace": "5m"}}) == [
        ("schedule.grace", "only used with schedule.cron")
    ]
    assert await _refused(client, {**start, "schedule": {"every": "day"}}) == [
        ("schedule.every", "unknown field (cron, timezone, grace, max_runtime, finish_within)")
    ]

    answer = await (await client.get("/ping/backup/start?schedule=0+2+*+*+*&tz=Nowhere")).json()
    assert answer["details"] == [{"field": "tz", "reason": "unknown time zone 'Nowhere'"}]
    answer = await (await client.get("/ping/backup/start?max_runtime=-1")).json()
    assert answer["details"][0]["field"] == "max_runtime"
    await get(client, "/jobs/backup", expect=404)


async def test_a_ping_declares_the_schedule_from_its_query(client: Client) -> None:
    response = await client.get(
        "/ping/backup/start",
        params={"schedule": "0 2 * * *", "tz": "Europe/Berlin", "grace": "30m",
                "max_runtime": "2h", "finish_within": "4h", "host": "db1"},
    )  # fmt: skip
    assert response.status == 200
    (job,) = (await get(client, "/jobs", q="backup"))["jobs"]
    assert job["labels"] == {"host": "db1"}  # the declaration's parameters are no labels
    shown = (await _detail(client, "backup", label="host=db1"))["schedule"]
    assert (shown["cron"], shown["timezone"], shown["grace_seconds"]) == (
        "0 2 * * *",
        "Europe/Berlin",
        1800.0,
    )
    assert (shown["max_runtime_seconds"], shown["finish_within_seconds"]) == (7200.0, 14400.0)


async def test_the_audit_entry_names_the_token_that_pushed_the_declaration(
    start: Callable[..., Awaitable[Client]],
) -> None:
    secrets = {"nightly-jobs": "n-secret", "ops": "o-secret"}
    tokens = (
        Token("nightly-jobs", PUSH, hashlib.sha256(b"n-secret").hexdigest()),
        Token("ops", ADMIN, hashlib.sha256(b"o-secret").hexdigest()),
    )
    client = await start(tokens=tokens)
    response = await client.get(
        "/ping/backup/start",
        params={"schedule": "0 2 * * *"},
        headers={"Authorization": f"Bearer {secrets['nightly-jobs']}"},
    )
    assert response.status == 200
    response = await client.get("/audit", headers={"Authorization": f"Bearer {secrets['ops']}"})
    (entry,) = [e for e in (await response.json())["entries"] if e["action"] == "job.declare"]
    assert (entry["who"], entry["target"]) == ("nightly-jobs", "backup")


async def test_a_missed_declared_schedule_is_notified_through_the_outbox(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    client = await start_with(receivers=webhook(receiver))
    await push(client, {"job": "backup", "event": "success", "schedule": {"cron": "0 * * * *"}})

    clock.advance(TO_NEXT_TICK + 1)
    await evaluate_rules(client)
    (message,) = await receiver.wait_for(1)
    (alert,) = message["alerts"]
    assert (alert["status"], alert["labels"]["alertname"], alert["labels"]["job"]) == (
        "firing",
        "JobMissedDeclaredSchedule",
        "backup",
    )
    assert alert["annotations"]["summary"] == "backup missed its declared schedule"
