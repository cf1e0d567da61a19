"""The dashboard's Queues pages: every queue with what waits and what finished, and one
queue's figures with the runs waiting in it now; linked from every page's navigation."""

from __future__ import annotations

from tests.collector.dashboard.page import page
from tests.helpers import Client, Clock, push


def _event(event: str, run_id: str, queue: str = "emails", **fields: object) -> dict[str, object]:
    return {"job": "app.tasks.send_email", "event": event, "run_id": run_id, "queue": queue,
            **fields}  # fmt: skip


async def test_the_queues_page_lists_each_queue_with_its_figures(
    client: Client, clock: Clock
) -> None:
    await push(client, [_event("queued", "a"), _event("queued", "b"), _event("queued", "c"),
                        _event("queued", "r", queue="reports")])  # fmt: skip
    clock.advance(90)
    await push(client, [_event("start", "a"), _event("retry", "a"), _event("start", "a"),
                        _event("success", "a"), _event("start", "b")])  # fmt: skip
    document = await page(client, "/ui/queues")
    rows = {row.attrs["data-queue"]: row for row in document.all("tr", data_queue=True)}
    assert list(rows) == ["emails", "reports"]
    cells = [cell.text for cell in rows["emails"].all("td")]
    assert cells[:4] == ["emails", "1", "1", "1 min 30 s"]
    assert cells[5] == "1 / 0 / 1 / 0"
    assert rows["emails"].one("a").attrs["href"] == "ui/queues/emails"
    nav = [link.text for link in document.one("nav").all("a")]
    assert "Queues" in nav

    filtered = await page(client, "/ui/queues?q=rep")
    assert [row.attrs["data-queue"] for row in filtered.all("tr", data_queue=True)] == ["reports"]


async def test_a_queues_page_shows_the_runs_waiting_longest_first(
    client: Client, clock: Clock
) -> None:
    await push(client, _event("queued", "old", max_attempts=3))
    clock.advance(30)
    await push(client, _event("queued", "new"))
    clock.advance(5)
    document = await page(client, "/ui/queues/emails")
    waiting = [row.attrs["data-run-id"] for row in document.all("tr", data_run_id=True)]
    assert waiting == ["old", "new"]
    first = [cell.text for cell in document.one("tr", data_run_id="old").all("td")]
    assert first[2:] == ["queued", "35 s", "— of 3"]
    assert (await page(client, "/ui/queues/nope", expect=404)).text


async def test_the_jobs_page_filters_by_queue_from_a_queues_page(client: Client) -> None:
    await push(client, [_event("queued", "a"), _event("queued", "r", queue="reports"),
                        {"job": "app.tasks.render", "event": "queued", "run_id": "x",
                         "queue": "reports"},
                        {"job": "cron", "event": "start"}])  # fmt: skip
    queue = await page(client, "/ui/queues/reports")
    link = queue.one("a", data_queue_jobs=True).attrs["href"]
    assert link == "ui/jobs?queue=reports"
    jobs = await page(client, f"/{link}")
    shown = [row.one("td", "name").one("a").text for row in jobs.all("tr", data_job_key=True)]
    assert shown == ["app.tasks.render", "app.tasks.send_email"]


async def test_the_pages_offer_pause_resume_and_cancel(client: Client) -> None:
    await push(client, [_event("queued", "a"), {"job": "cron", "event": "start", "run_id": "c"}])
    queue = await page(client, "/ui/queues/emails")
    urls = [
        button.attrs["data-command-url"] for button in queue.all("button", data_command_url=True)
    ]
    assert urls == ["queues/emails/pause", "queues/emails/resume"]
    run = await page(client, "/ui/runs/a")
    (cancel,) = run.all("button", data_command_url=True)
    assert cancel.attrs["data-command-url"] == "runs/a/cancel"
    assert (await page(client, "/ui/runs/c")).all("button", data_command_url=True) == []
