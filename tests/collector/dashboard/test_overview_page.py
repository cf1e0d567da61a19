"""GET /: counts by status, the day's success rate and run rate, what runs, what is wrong."""

from __future__ import annotations

from tests.collector.dashboard.page import page
from tests.helpers import Client, Clock, push


async def test_it_counts_jobs_by_status_and_rates_the_day(client: Client, clock: Clock) -> None:
    now = clock.now
    await push(client, [
        *({"job": f"ok_{i}", "event": "success", "timestamp": now - 60} for i in range(3)),
        {"job": "broken", "event": "fail", "message": "disk full", "timestamp": now - 60},
        {"job": "busy", "event": "start", "run_id": "busy-1", "progress": {"percent": 10}},
    ])  # fmt: skip
    document = await page(client, "/")
    cards = {card.one("span", "card-label").text: card.one("span", "card-value").text
             for card in document.all(cls="card")}  # fmt: skip
    assert cards["jobs"] == "5"
    assert (cards["succeeded"], cards["failed"], cards["running"]) == ("3", "1", "1")
    assert cards["success rate, 24 h"] == "75%"
    assert cards["runs in 24 h"] == "5"
    running = document.one("section", id="overview-running")
    assert running.one("div", "progress-cell").attrs["data-run-id"] == "busy-1"
    attention = document.one("section", id="overview-attention")
    assert attention.one("tr", data_job_key=True).text.startswith("failed broken disk full")
    assert document.one("a", "card", href="ui/jobs?status=failed")


async def test_with_nothing_firing_it_says_so(client: Client) -> None:
    listed = (await page(client, "/")).one("section", id="overview-alerts")
    assert listed.one("p", "empty").text == "No alert is firing."


async def test_an_empty_server_says_how_to_start(client: Client) -> None:
    document = await page(client, "/")
    assert "batchgate demo" in document.one("section", id="overview-attention").text
