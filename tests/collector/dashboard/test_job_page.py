"""GET /ui/jobs/{job}: runs in flight, trends, a duration chart, a success/failure strip,
the run history in pages, and a 404 page for a job that does not exist."""

from __future__ import annotations

from tests.collector.dashboard.page import page
from tests.helpers import Client, Clock, push


async def _history(client: Client, clock: Clock, runs: int) -> None:
    """Runs of `nightly`, one an hour, every fifth failing, the oldest first."""
    now = clock.now
    await push(client, [
        {"job": "nightly", "event": "fail" if i % 5 == 4 else "success",
         "run_id": f"n-{i:03d}", "duration_seconds": 60 + i,
         "timestamp": now - (runs - i) * 3600, "message": "boom" if i % 5 == 4 else None}
        for i in range(runs)
    ])  # fmt: skip


async def test_it_shows_trends_for_a_day_a_week_and_a_month(client: Client, clock: Clock) -> None:
    await _history(client, clock, 30)
    document = await page(client, "/ui/jobs/nightly")
    trends = document.one("table", "trends")
    rows = {row.one("th").text: row.text for row in trends.one("tbody").all("tr")}
    assert list(rows) == ["24h", "7d", "30d"]
    # The last 24 hours saw 23 runs start (the one ending 24 h ago started before), 5 failed.
    assert rows["24h"].split()[1:3] == ["23", "78%"]
    assert rows["30d"].split()[1:3] == ["30", "80%"]


async def test_it_charts_durations_and_successes(client: Client, clock: Clock) -> None:
    await _history(client, clock, 10)
    document = await page(client, "/ui/jobs/nightly")
    chart = document.one("figure", "series-duration")
    dots = chart.all("a", "dot")
    assert len(dots) == 10
    assert dots[0].attrs["href"] == "ui/runs/n-000"
    assert {"dot", "status-failed"} == dots[4].classes
    assert "boom" in dots[4].attrs["title"]
    assert chart.one("path", "line").attrs["d"].count("M") == 1
    ticks = document.one("div", "strip").all("a", "tick")
    assert [t.attrs["href"] for t in ticks] == [f"ui/runs/n-{i:03d}" for i in range(10)]
    assert [t.classes for t in ticks][4] == {"tick", "status-failed"}


async def test_the_history_is_paged_newest_first(client: Client, clock: Clock) -> None:
    await _history(client, clock, 60)
    document = await page(client, "/ui/jobs/nightly")
    history = document.one("section", id="job-history")
    first = [row.attrs["data-run-id"] for row in history.all("tr", data_run_id=True)]
    assert first == [f"n-{i:03d}" for i in range(59, 9, -1)]
    older = history.one("nav", "pager").one("a").attrs["href"]
    second = (await page(client, f"/{older}")).one("section", id="job-history")
    rest = [row.attrs["data-run-id"] for row in second.all("tr", data_run_id=True)]
    assert rest == [f"n-{i:03d}" for i in range(9, -1, -1)]
    failed = await page(client, "/ui/jobs/nightly?status=failed")
    ids = [r.attrs["data-run-id"] for r in failed.one("section", id="job-history").all("tr")
           if "data-run-id" in r.attrs]  # fmt: skip
    assert ids == [f"n-{i:03d}" for i in range(59, -1, -1) if i % 5 == 4]


async def test_runs_in_flight_have_progress_bars(client: Client) -> None:
    await push(client, [
        {"job": "nightly", "event": "start", "run_id": "a", "progress": {"percent": 40}},
        {"job": "nightly", "event": "start", "run_id": "b"},
    ])  # fmt: skip
    running = (await page(client, "/ui/jobs/nightly")).one("section", id="job-running")
    cells = running.all("div", "progress-cell")
    assert sorted(cell.attrs["data-run-id"] for cell in cells) == ["a", "b"]


async def test_label_sets_are_listed_and_can_be_chosen(client: Client) -> None:
    await push(client, [
        {"job": "backup", "labels": {"host": "db1"}, "event": "success", "run_id": "b1"},
        {"job": "backup", "labels": {"host": "db2"}, "event": "fail", "run_id": "b2"},
    ])  # fmt: skip
    both = await page(client, "/ui/jobs/backup")
    summary = both.one("section", id="job-summary")
    assert [row.one("span", "badge").text for row in summary.all("tr", data_job_key=True)] == [
        "succeeded",
        "failed",
    ]
    one = await page(client, "/ui/jobs/backup?label=host%3Ddb2")
    history = one.one("section", id="job-history")
    assert [r.attrs["data-run-id"] for r in history.all("tr", data_run_id=True)] == ["b2"]


async def test_the_page_follows_only_this_jobs_events(client: Client) -> None:
    await push(client, {"job": "nightly", "event": "success"})
    body = (await page(client, "/ui/jobs/nightly")).one("body")
    assert body.attrs["data-events"] == "events?job=nightly"


async def test_an_unknown_job_is_a_404_page(client: Client) -> None:
    document = await page(client, "/ui/jobs/nope", expect=404)
    assert "no job named 'nope'" in document.text
