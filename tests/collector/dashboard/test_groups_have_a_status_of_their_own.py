"""A Pushgateway group on the jobs list and the overview has a status of its own, not a
batch job's `succeeded` with 0 / 0 runs: `pushed` with its last push time, `push failed`
with when its last push was refused, `stale` while an `absent` rule fires for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.collector.alerting.conftest import alerting
from tests.collector.dashboard.page import Element, page
from tests.helpers import Client, Clock, evaluate_rules, push

RULES = """
rules:
  - {name: GroupNotPushed, kind: absent, absent_for: 1h, match: {job_kind: pushgateway}}
"""


async def _put(client: Client, path: str, body: str, expect: int = 200) -> None:
    response = await client.put(path, data=body.encode())
    assert response.status == expect, await response.text()


def _row(document: Element, job: str) -> Element:
    (row,) = [row for row in document.all("tr", data_job_key=True) if row.all("a")[0].text == job]
    return row


def _cells(row: Element) -> list[str]:
    return [cell.text for cell in row.all("td")]


async def test_a_group_reads_pushed_with_its_last_push(start: Any, tmp_path: Path) -> None:
    client = await start(alerting=alerting(tmp_path, rules=RULES))
    await _put(client, "/metrics/job/db_dump/instance/db1", "# TYPE rows gauge\nrows 7\n")
    await push(client, {"job": "etl", "event": "success", "duration_seconds": 3})
    cells = _cells(_row(await page(client, "/ui/jobs"), "db_dump"))
    assert cells[0] == "pushed"
    assert cells[2] == "pushed just now"
    assert cells[-1] == "—"  # no "0 / 0" runs: a group has pushes, not runs
    assert _cells(_row(await page(client, "/ui/jobs"), "etl"))[0] == "succeeded"

    cards = _cards(await page(client, "/"))
    assert (cards["jobs"], cards["succeeded"]) == ("1", "1")  # the group is not a job
    assert cards["Pushgateway group"] == "1"


async def test_a_refused_push_reads_push_failed(start: Any, tmp_path: Path, clock: Clock) -> None:
    client = await start(alerting=alerting(tmp_path, rules=RULES))
    await _put(client, "/metrics/job/a", "# TYPE shared gauge\nshared 1\n")
    await _put(client, "/metrics/job/b", "# TYPE other gauge\nother 1\n")
    clock.advance(120)
    await _put(client, "/metrics/job/b", "# TYPE shared counter\nshared 2\n", 400)
    row = _row(await page(client, "/ui/jobs"), "b")
    assert "problem" in row.classes
    cells = _cells(row)
    assert cells[0] == "push failed"
    assert cells[2] == "last push refused just now; last good push 2 min ago"
    assert [r.attrs["data-job-key"] for r in (await page(client, "/ui/jobs?status=push-failed"))
            .all("tr", data_job_key=True)] == [row.attrs["data-job-key"]]  # fmt: skip

    overview = await page(client, "/")
    assert _cards(overview)["push failed"] == "1"
    attention = overview.one("section", id="overview-attention")
    assert _cells(_row(attention, "b"))[:1] == ["push failed"]


async def test_a_group_an_absent_rule_fires_for_reads_stale(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    client = await start(alerting=alerting(tmp_path, rules=RULES))
    await _put(client, "/metrics/job/nightly_export/instance/old-host", "rows 1\n")
    await _put(client, "/metrics/job/db_dump/instance/db1", "rows 7\n")
    clock.advance(3000)
    await _put(client, "/metrics/job/db_dump/instance/db1", "rows 8\n")
    clock.advance(1000)
    await evaluate_rules(client)
    document = await page(client, "/ui/jobs?status=problems")
    (row,) = document.all("tr", data_job_key=True)
    assert _cells(row)[:3] == ["stale", "nightly_export group instance=old-host",
                               "no push for 1 h 06 min"]  # fmt: skip
    overview = await page(client, "/")
    assert (_cards(overview)["stale"], _cards(overview)["Pushgateway groups"]) == ("1", "2")
    attention = overview.one("section", id="overview-attention")
    assert _cells(_row(attention, "nightly_export"))[0] == "stale"

    await _put(client, "/metrics/job/nightly_export/instance/old-host", "rows 2\n")
    assert _cells(_row(await page(client, "/ui/jobs"), "nightly_export"))[0] == "pushed"


def _cards(document: Element) -> dict[str, str]:
    return {
        card.one("span", "card-label").text: card.one("span", "card-value").text
        for card in document.all(cls="card")
    }
