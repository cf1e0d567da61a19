"""GET /ui/jobs: every job with its status, progress and ETA, durations and last success."""

from __future__ import annotations

import json

from tests.collector.dashboard.page import page
from tests.helpers import Client, Clock, push


async def test_it_lists_every_job_with_its_status_and_labels(client: Client) -> None:
    await push(client, [
        {"job": "backup", "labels": {"host": "db1"}, "event": "success", "duration_seconds": 42},
        {"job": "backup", "labels": {"host": "db2"}, "event": "fail", "duration_seconds": 5,
         "message": "disk full", "exit_code": 2},
        {"job": "etl", "event": "start", "run_id": "etl-1"},
    ])  # fmt: skip
    document = await page(client, "/ui/jobs")
    rows = document.all("tr", data_job_key=True)
    keys = [json.loads(row.attrs["data-job-key"]) for row in rows]
    assert keys == [["backup", [["host", "db1"]]], ["backup", [["host", "db2"]]], ["etl", []]]
    statuses = [row.one("span", "badge").text for row in rows]
    assert statuses == ["succeeded", "failed", "running"]
    assert "host=db2" in rows[1].text
    assert "disk full" in rows[1].text
    assert "42 s" in rows[0].text  # last duration
    assert "problem" in rows[1].classes
    assert document.one("p", "count").text == "3 jobs"


async def test_a_running_run_shows_its_progress_and_eta(client: Client, clock: Clock) -> None:
    await push(client, {"job": "etl", "event": "start", "run_id": "etl-1"})
    clock.advance(60)
    await push(client, {"job": "etl", "event": "progress", "run_id": "etl-1",
                        "progress": {"done": 250, "total": 1000}})  # fmt: skip
    row = (await page(client, "/ui/jobs")).one("tr", data_job_key=True)
    cell = row.one("div", "progress-cell")
    assert cell.attrs["data-run-id"] == "etl-1"
    bar = cell.one("div", "progress")
    assert bar.attrs["aria-valuenow"] == "25.0"
    assert bar.one("div", "bar").attrs["style"] == "width: 25.0%"
    text = cell.one("div", "progress-text").text
    # A quarter done after a minute: three more minutes to go.
    assert text == "25% 250 / 1,000 ETA in 3 min"


async def test_a_run_without_progress_shows_how_long_it_runs(client: Client, clock: Clock) -> None:
    await push(client, {"job": "backup", "event": "start", "run_id": "b-1"})
    clock.advance(125)
    cell = (await page(client, "/ui/jobs")).one("div", "progress-cell")
    assert "indeterminate" in cell.one("div", "progress").classes
    assert "for 2 min 05 s" in cell.text


async def test_a_stuck_run_says_since_when_it_has_not_moved(client: Client, clock: Clock) -> None:
    await push(client, {"job": "import", "event": "start", "run_id": "i-1",
                        "progress": {"done": 10, "total": 100}})  # fmt: skip
    clock.advance(1200)
    await push(client, {"job": "import", "event": "progress", "run_id": "i-1",
                        "resources": {"cpu_percent": 1}})  # fmt: skip
    row = (await page(client, "/ui/jobs")).one("tr", data_job_key=True)
    assert row.one("span", "badge").text == "stuck"
    assert "stuck" in row.one("div", "progress").classes
    assert "no progress for 20 min" in row.text


async def test_recent_durations_are_drawn_as_a_sparkline(client: Client, clock: Clock) -> None:
    for seconds, event in ((30, "success"), (60, "success"), (45, "fail")):
        clock.advance(100)
        await push(client, {"job": "report", "event": event, "duration_seconds": seconds})
    row = (await page(client, "/ui/jobs")).one("tr", data_job_key=True)
    sparkline = row.one("span", "sparkline")
    assert sparkline.one("path").attrs["d"].count("L") == 2  # three points
    assert [dot.classes for dot in sparkline.all("span", "dot")] == [{"dot", "status-failed"}]
    assert "1 min ago" in row.text  # the last success, 100 s before the failure


async def test_with_no_jobs_it_says_how_to_get_some(client: Client) -> None:
    document = await page(client, "/ui/jobs")
    assert "No jobs yet" in document.text
    assert "batchgate demo" in document.text


async def test_a_pushgateway_group_links_to_the_groups_page(client: Client) -> None:
    body = "# TYPE db_dump_size_bytes gauge\ndb_dump_size_bytes 42\n"
    response = await client.put("/metrics/job/db_dump/instance/db1", data=body)
    assert response.status == 200
    row = (await page(client, "/ui/jobs")).one("tr", data_job_key=True)
    assert row.one("span", "tag").text == "group"
    assert row.one("td", "name").one("a").attrs["href"] == "ui/groups?q=db_dump"
