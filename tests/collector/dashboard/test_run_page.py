"""GET /ui/runs/{run_id}: progress and resources over time, message, exit code, events."""

from __future__ import annotations

from tests.collector.dashboard.page import page
from tests.helpers import Client, Clock, push


async def _run(client: Client, clock: Clock) -> None:
    await push(client, {"job": "etl", "event": "start", "run_id": "r1"})
    for step in range(1, 5):
        clock.advance(10)
        await push(client, {
            "job": "etl", "event": "progress", "run_id": "r1",
            "progress": {"done": step * 100, "total": 400},
            "resources": {"cpu_percent": 50.0 + step, "memory_bytes": step * 2**20},
            "metrics": {"rows_per_second": 10.5},
        })  # fmt: skip


async def test_a_running_run_shows_its_progress_and_charts(client: Client, clock: Clock) -> None:
    await _run(client, clock)
    document = await page(client, "/ui/runs/r1")
    state = document.one("section", id="run-state")
    assert state.attrs["data-run-page"] == "r1"
    assert state.one("div", "progress").attrs["aria-valuenow"] == "100.0"
    cards = {card.one("span", "card-label").text: card.one("span", "card-value").text
             for card in state.all("div", "card")}  # fmt: skip
    assert (cards["running for"], cards["CPU (last)"], cards["memory (last)"]) == (
        "40 s", "54%", "4.0 MiB",
    )  # fmt: skip
    assert "rows_per_second" in state.one("table", "metrics").text
    charts = document.one("section", id="run-charts").all("figure", "chart")
    assert [c.one("figcaption").text for c in charts] == [
        "Progress", "CPU, % of one core", "Memory",
    ]  # fmt: skip
    for chart in charts:
        assert chart.one("path", "line").attrs["d"].startswith("M0 ")
    assert [t.text for t in charts[0].all("span", "y-tick")] == ["0", "50%", "100%"]
    events = document.one("section", id="run-events").one("table", "events")
    assert [row.all("td")[1].text for row in events.one("tbody").all("tr")] == [
        "progress", "progress", "progress", "progress", "start",
    ]  # fmt: skip


async def test_a_finished_run_shows_its_message_and_exit_code(client: Client, clock: Clock) -> None:
    await _run(client, clock)
    clock.advance(5)
    await push(client, {"job": "etl", "event": "fail", "run_id": "r1", "exit_code": 3,
                        "message": "Traceback:\n  KeyError: 'id'"})  # fmt: skip
    state = (await page(client, "/ui/runs/r1")).one("section", id="run-state")
    assert state.one("pre", "message-block").text == "Traceback: KeyError: 'id'"
    cards = {card.one("span", "card-label").text: card.one("span", "card-value").text
             for card in state.all("div", "card")}  # fmt: skip
    assert cards["exit code"] == "3"
    assert cards["duration"] == "45 s"
    assert cards["status"] == "failed"


async def test_a_run_without_a_timeline_says_so(client: Client) -> None:
    await push(client, {"job": "cron", "event": "success", "run_id": "c1", "duration_seconds": 3})
    document = await page(client, "/ui/runs/c1")
    assert [c.one("p", "empty").text for c in document.all("figure", "chart")] == [
        "Not enough data to draw yet.",
    ] * 3


async def test_an_unknown_run_is_a_404_page(client: Client) -> None:
    document = await page(client, "/ui/runs/nope", expect=404)
    assert "no run with id 'nope'" in document.text
