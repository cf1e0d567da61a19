"""The query API: /jobs filters and pagination, a job's detail, runs, trends, summary, delete."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pytest

from batchgate.collector.core.api_json import encode_cursor
from tests.helpers import Client, Clock, get, push


async def _history(client: Client, clock: Clock) -> None:
    """etl_orders{env=prod}: 3 succeeded (10s, 20s, 30s) + 1 failed; etl_users: running;
    backup{host=db1}, backup{host=db2}: one success each."""
    for seconds in (10, 20, 30):
        await push(client, {"job": "etl_orders", "labels": {"env": "prod"}, "event": "success",
                            "duration_seconds": seconds,
                            "progress": {"done": seconds * 100}})  # fmt: skip
        clock.advance(60)
    await push(client, {"job": "etl_orders", "labels": {"env": "prod"}, "event": "fail",
                        "duration_seconds": 5})  # fmt: skip
    await push(client, {"job": "etl_users", "event": "start", "progress": {"percent": 20}})
    for host in ("db1", "db2"):
        await push(client, {"job": "backup", "labels": {"host": host}, "event": "success",
                            "duration_seconds": 100})  # fmt: skip


def _names(page: dict[str, Any]) -> list[str]:
    return [f"{job['job']}{job['labels']}" for job in page["jobs"]]


async def test_it_lists_jobs_in_name_order(client: Client, clock: Clock) -> None:
    await _history(client, clock)
    page = await get(client, "/jobs")
    assert _names(page) == [
        "backup{'host': 'db1'}", "backup{'host': 'db2'}", "etl_orders{'env': 'prod'}",
        "etl_users{}",
    ]  # fmt: skip
    assert page["next"] is None


async def test_it_filters_jobs_by_status_name_and_labels(client: Client, clock: Clock) -> None:
    await _history(client, clock)
    assert _names(await get(client, "/jobs", status="running")) == ["etl_users{}"]
    assert _names(await get(client, "/jobs", status="failed,running")) == [
        "etl_orders{'env': 'prod'}", "etl_users{}",
    ]  # fmt: skip
    assert _names(await get(client, "/jobs", q="etl_*")) == [
        "etl_orders{'env': 'prod'}", "etl_users{}",
    ]  # fmt: skip
    assert _names(await get(client, "/jobs", label="host=db2")) == ["backup{'host': 'db2'}"]
    refused = await get(client, "/jobs", 400, status="exploded")
    assert refused["details"] == [{"field": "status", "reason": refused["details"][0]["reason"]}]


async def test_it_pages_through_jobs_with_a_cursor(client: Client, clock: Clock) -> None:
    await push(client, [{"job": f"job_{i:02d}", "event": "start"} for i in range(25)])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": "10", **({"cursor": cursor} if cursor else {})}
        page = await get(client, "/jobs", **params)
        seen.extend(job["job"] for job in page["jobs"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"job_{i:02d}" for i in range(25)]
    bad = await get(client, "/jobs", 400, cursor="garbage!")
    assert bad["details"][0]["field"] == "cursor"


async def test_a_cursor_from_another_endpoint_is_refused(client: Client) -> None:
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    jobs_cursor = encode_cursor("etl", [])
    runs_cursor = encode_cursor(1_700_000_000.0, "r1")
    history_cursor = encode_cursor(1_700_000_000.0, 7)
    for path, cursor in [
        ("/jobs", runs_cursor),
        ("/jobs/etl/runs", jobs_cursor),
        ("/jobs/etl/runs", history_cursor),
        ("/alerts/history", runs_cursor),
        ("/alerts/history", jobs_cursor),
    ]:
        bad = await get(client, path, 400, cursor=cursor)
        assert bad["details"] == [
            {"field": "cursor", "reason": "not a cursor returned by this endpoint"}
        ], path
    for path, cursor in [
        ("/jobs", jobs_cursor),
        ("/jobs/etl/runs", runs_cursor),
        ("/alerts/history", history_cursor),
    ]:
        await get(client, path, cursor=cursor)


async def test_it_shows_every_label_set_of_a_job(client: Client, clock: Clock) -> None:
    await _history(client, clock)
    detail = await get(client, "/jobs/backup")
    assert [s["labels"] for s in detail["label_sets"]] == [{"host": "db1"}, {"host": "db2"}]
    orders = (await get(client, "/jobs/etl_orders"))["label_sets"][0]
    assert [r["status"] for r in orders["recent_runs"]] == [
        "failed", "succeeded", "succeeded", "succeeded",
    ]  # fmt: skip
    assert orders["stats"]["duration_seconds"]["count"] == 4
    assert orders["stats"]["duration_seconds"]["avg"] == 16.25
    missing = await get(client, "/jobs/nothing_here", 404)
    assert "nothing_here" in missing["error"]


async def test_it_lists_a_jobs_runs_newest_first_with_filters_and_pages(
    client: Client, clock: Clock
) -> None:
    await _history(client, clock)
    runs = (await get(client, "/jobs/etl_orders/runs"))["runs"]
    assert [r["duration_seconds"] for r in runs] == [5, 30, 20, 10]
    failed = (await get(client, "/jobs/etl_orders/runs", status="failed"))["runs"]
    assert [r["status"] for r in failed] == ["failed"]
    first = await get(client, "/jobs/etl_orders/runs", limit="3")
    second = await get(client, "/jobs/etl_orders/runs", limit="3", cursor=first["next"])
    assert [r["duration_seconds"] for r in first["runs"] + second["runs"]] == [5, 30, 20, 10]
    assert second["next"] is None
    since = clock.now - 90
    recent = (await get(client, "/jobs/etl_orders/runs", since=str(since)))["runs"]
    assert [r["duration_seconds"] for r in recent] == [5, 30]


async def test_it_computes_trends_over_a_period(client: Client, clock: Clock) -> None:
    await _history(client, clock)
    trends = await get(client, "/jobs/etl_orders/trends", period="24h")
    assert trends["runs"] == 4
    assert (trends["succeeded"], trends["failed"]) == (3, 1)
    assert trends["success_rate"] == 0.75
    assert trends["duration_seconds"] == {"avg": 20, "p50": 20, "p95": 29, "max": 30}
    assert trends["records_per_second"] == 100
    clock.advance(2 * 86400)
    empty = await get(client, "/jobs/etl_orders/trends", period="24h")
    assert (empty["runs"], empty["success_rate"]) == (0, None)
    assert (await get(client, "/jobs/etl_orders/trends", 400, period="fortnight"))["details"]


@pytest.mark.parametrize("count", [1, 2, 3, 20, 101])
async def test_trend_percentiles_interpolate_between_the_two_nearest_runs(
    client: Client, count: int
) -> None:
    durations = random.Random(count).sample(range(1, 10 * count + 1), count)
    await push(client, [
        {"job": "batch", "event": "success", "duration_seconds": seconds}
        for seconds in durations
    ])  # fmt: skip
    trends = await get(client, "/jobs/batch/trends", period="24h")
    if count == 1:
        expected = [float(durations[0])] * 2
    else:
        cuts = statistics.quantiles(durations, n=100, method="inclusive")
        expected = [cuts[49], cuts[94]]
    measured = [trends["duration_seconds"]["p50"], trends["duration_seconds"]["p95"]]
    assert measured == pytest.approx(expected)


async def test_it_summarises_all_jobs(client: Client, clock: Clock) -> None:
    await _history(client, clock)
    summary = await get(client, "/summary")
    assert summary["jobs"] == 4
    assert summary["jobs_by_status"]["succeeded"] == 2
    assert summary["jobs_by_status"]["failed"] == 1
    assert summary["jobs_by_status"]["running"] == 1
    assert summary["running_runs"] == 1
    assert summary["runs"] == 7
    assert summary["success_rate"] == 5 / 6
    assert summary["runs_per_minute"] == 7 / 1440


async def test_it_deletes_a_job_and_its_history(start: Any, clock: Clock) -> None:
    client = await start()
    await _history(client, clock)
    runs = (await get(client, "/jobs/backup/runs", label="host=db1"))["runs"]
    deleted = await get_delete(client, "/jobs/backup?label=host=db1")
    assert deleted == {"deleted": [{"job": "backup", "labels": {"host": "db1"}}]}
    assert [s["labels"] for s in (await get(client, "/jobs/backup"))["label_sets"]] == [
        {"host": "db2"}
    ]
    assert (await client.get(f"/runs/{runs[0]['run_id']}")).status == 404
    await client.close()
    client = await start()
    assert "backup{'host': 'db1'}" not in _names(await get(client, "/jobs"))
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "start"})
    (fresh,) = (await get(client, "/jobs/backup", label="host=db1"))["label_sets"]
    assert fresh["runs"] == {}


async def get_delete(client: Client, path: str) -> Any:
    from tests.helpers import checked

    return await checked(await client.delete(path))


async def test_a_period_of_no_time_or_of_eons_is_refused_naming_it(client: Client) -> None:
    await push(client, {"job": "etl", "event": "success"})
    # 1e30 s: found by the OpenAPI fuzz test, a 500 (its start is no date a clock can write).
    for path in ("/summary", "/jobs/etl/trends", "/queues/emails/trends"):
        for period in ("0s", "999999999999999999999999999999"):
            refused = await get(client, path, 400, period=period)
            reason = f"must be longer than 0 seconds and at most 100 years, not {period!r}"
            assert refused["details"] == [{"field": "period", "reason": reason}]
