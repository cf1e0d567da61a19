"""GET /alerts/history: every alert that fired, changed severity or resolved, newest first,
kept across restarts and for as long as runs are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from batchgate.collector.http.keys import ALERTING, INGEST
from tests.helpers import Client, Clock, checked, get, push

Start = Callable[..., Awaitable[Client]]


async def _history(client: Client, **params: Any) -> list[tuple[str, str, str]]:
    events = (await get(client, "/alerts/history", **params))["events"]
    return [(e["event"], e["alertname"], e["job"]) for e in events]


async def _fail_then_succeed(client: Client, clock: Clock, job: str) -> None:
    await push(client, {"job": job, "event": "fail", "exit_code": 2, "message": "disk full"})
    clock.advance(60)
    await push(client, {"job": job, "event": "success", "duration_seconds": 1})
    clock.advance(60)


async def test_a_failure_and_its_recovery_are_kept_across_a_restart(
    start: Start, clock: Clock
) -> None:
    client = await start()
    await push(client, {"job": "backup", "event": "fail", "exit_code": 2, "message": "disk full"})
    fired_at = clock.now
    clock.advance(60)
    await push(client, {"job": "backup", "event": "success", "duration_seconds": 1})
    events = (await get(client, "/alerts/history"))["events"]
    assert [(e["event"], e["alertname"], e["job"]) for e in events] == [
        ("resolved", "JobFailed", "backup"),
        ("firing", "JobFailed", "backup"),
    ]
    firing = events[1]
    assert firing["summary"] == "backup failed"
    assert (firing["severity"], firing["job_labels"]) == ("warning", {})
    assert firing["at"] == (await get(client, "/alerts"))["alerts"][0]["fired_at"]
    assert events[0]["alert_id"] == firing["alert_id"]

    await client.close()
    client = await start()
    await client.app[ALERTING].evaluate_all(full=True)
    assert await _history(client) == [
        ("resolved", "JobFailed", "backup"),
        ("firing", "JobFailed", "backup"),
    ], "nothing lost, nothing told again by the restart"
    assert await _history(client, since=fired_at + 1) == [("resolved", "JobFailed", "backup")]
    assert await _history(client, until=fired_at + 1) == [("firing", "JobFailed", "backup")]


async def test_it_filters_by_job_and_rule_and_pages_newest_first(
    client: Client, clock: Clock
) -> None:
    for job in ("backup", "etl", "backup"):
        await _fail_then_succeed(client, clock, job)
    assert await _history(client, job="etl") == [
        ("resolved", "JobFailed", "etl"),
        ("firing", "JobFailed", "etl"),
    ]
    assert await _history(client, alertname="JobStuck") == []

    seen = []
    page = await get(client, "/alerts/history", job="backup", limit=3)
    seen += page["events"]
    assert page["next"] is not None
    page = await get(client, "/alerts/history", job="backup", limit=3, cursor=page["next"])
    seen += page["events"]
    assert page["next"] is None
    assert [e["event"] for e in seen] == ["resolved", "firing", "resolved", "firing"]
    assert [e["id"] for e in seen] == sorted((e["id"] for e in seen), reverse=True)

    refused = await checked(await client.get("/alerts/history?cursor=WzEsMiwzXQ"), 400)
    assert refused["details"][0]["field"] == "cursor"


async def test_it_forgets_what_is_older_than_the_retention(client: Client, clock: Clock) -> None:
    await _fail_then_succeed(client, clock, "backup")
    clock.advance(31 * 86400)
    await _fail_then_succeed(client, clock, "etl")
    await client.app[INGEST].apply_retention()
    assert await _history(client) == [
        ("resolved", "JobFailed", "etl"),
        ("firing", "JobFailed", "etl"),
    ]


async def test_the_job_page_shows_its_alert_history(client: Client, clock: Clock) -> None:
    await _fail_then_succeed(client, clock, "backup")
    await _fail_then_succeed(client, clock, "etl")
    page = await (await client.get("/ui/jobs/backup")).text()
    section = page[page.index('id="job-alert-history"') :]
    section = section[: section.index("</section>")]
    assert section.count("<tr>") == 3, section  # the header and two events
    assert ">resolved<" in section
    assert ">firing<" in section
    assert "JobFailed" in section
    assert "backup failed" in section
    assert "etl failed" not in section
