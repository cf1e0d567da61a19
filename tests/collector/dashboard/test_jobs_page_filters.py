"""The jobs table's search, status filter, label filter, sort and pages."""

from __future__ import annotations

import json

from tests.collector.dashboard.page import page
from tests.helpers import Client, Clock, push


async def _names(client: Client, query: str) -> list[str]:
    document = await page(client, f"/ui/jobs?{query}")
    return [
        json.loads(row.attrs["data-job-key"])[0] for row in document.all("tr", data_job_key=True)
    ]


async def _jobs(client: Client) -> None:
    await push(client, [
        {"job": "etl_orders", "labels": {"env": "prod"}, "event": "success"},
        {"job": "etl_customers", "labels": {"env": "staging"}, "event": "fail"},
        {"job": "backup", "labels": {"env": "prod", "host": "Orders-DB"}, "event": "start"},
        {"job": "report", "event": "success"},
    ])  # fmt: skip


async def test_search_matches_names_and_label_values_ignoring_case(client: Client) -> None:
    await _jobs(client)
    assert await _names(client, "q=ORDERS") == ["backup", "etl_orders"]
    assert await _names(client, "q=etl_*") == ["etl_customers", "etl_orders"]
    assert await _names(client, "q=nothing") == []


async def test_status_and_label_filters(client: Client) -> None:
    await _jobs(client)
    assert await _names(client, "status=failed") == ["etl_customers"]
    assert await _names(client, "status=problems") == ["etl_customers"]
    assert await _names(client, "status=running,succeeded") == ["backup", "etl_orders", "report"]
    assert await _names(client, "label=env%3Dprod") == ["backup", "etl_orders"]
    assert await _names(client, "label=env%3Dprod+host%3DOrders-DB") == ["backup"]


async def test_the_form_keeps_the_filters_it_shows(client: Client) -> None:
    await _jobs(client)
    document = await page(client, "/ui/jobs?q=etl&status=problems&label=env%3Dstaging")
    form = document.one("form", data_filter_form=True)
    assert form.one("input", name="q").attrs["value"] == "etl"
    assert form.one("input", name="label").attrs["value"] == "env=staging"
    assert "selected" in form.one("option", value="problems").attrs
    assert document.one("p", "count").text == "1 of 4 jobs match"


async def test_bad_filters_are_ignored_and_said_so(client: Client) -> None:
    await _jobs(client)
    document = await page(client, "/ui/jobs?status=broken&label=nolabel&sort=sideways")
    assert len(document.all("tr", data_job_key=True)) == 4
    notice = document.one("p", "notice").text
    assert notice == (
        "Ignored: status 'broken'; label filter 'nolabel' (write name=value); sort 'sideways'."
    )


async def test_sorting_puts_problems_or_recent_jobs_first(client: Client, clock: Clock) -> None:
    await push(client, {"job": "a_ok", "event": "success"})
    clock.advance(10)
    await push(client, {"job": "b_failed", "event": "fail"})
    clock.advance(10)
    await push(client, {"job": "c_running", "event": "start"})
    assert await _names(client, "sort=status") == ["b_failed", "c_running", "a_ok"]
    assert await _names(client, "sort=recent") == ["c_running", "b_failed", "a_ok"]


async def test_long_lists_are_paged(client: Client) -> None:
    await push(client, [{"job": f"job_{i:02d}", "event": "success"} for i in range(25)])
    document = await page(client, "/ui/jobs?limit=10&offset=10")
    names = [json.loads(r.attrs["data-job-key"])[0] for r in document.all("tr", data_job_key=True)]
    assert names == [f"job_{i:02d}" for i in range(10, 20)]
    assert document.one("p", "count").text == "25 jobs, showing 11–20"  # noqa: RUF001
    links = {a.text: a.attrs["href"] for a in document.one("nav", "pager").all("a")}
    assert links == {"← previous": "ui/jobs?limit=10", "next →": "ui/jobs?offset=20&limit=10"}
