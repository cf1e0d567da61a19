"""In headless Chromium, on a laptop and a phone: Pushgateway groups on the jobs list read
`pushed`, `push failed` or `stale` in colours of their own (not a grey or a batch job's
`succeeded` with 0 / 0 runs), and a run far past its job's usual duration is marked, on the
jobs list and first on the overview, with no rule for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from selenium.webdriver.remote.webdriver import WebDriver

from batchgate.collector.http.keys import ALERTING
from tests.collector.alerting.conftest import alerting
from tests.collector.dashboard.browser import (
    as_phone,
    errors_in_console,
    live,
    screenshot,
    wait,
)
from tests.collector.dashboard.conftest import Dashboard, serving
from tests.helpers import Clock

RULES = """
rules:
  - {name: GroupNotPushed, kind: absent, absent_for: 1h, match: {job_kind: pushgateway}}
"""


def _fill(dashboard: Dashboard, clock: Clock) -> None:
    server = dashboard.server
    server.put("/metrics/job/nightly_export/instance/old-host", "rows 1\n")
    server.put("/metrics/job/shared/instance/a", "# TYPE shared gauge\nshared 1\n")
    clock.advance(2 * 3600)  # nightly_export's host was retired two hours ago
    server.put("/metrics/job/db_dump/instance/db1", "# TYPE other gauge\nother 1\n")
    server.put("/metrics/job/db_dump/instance/db1", "# TYPE shared counter\nshared 2\n", 400)
    server.put("/metrics/job/shared/instance/a", "# TYPE shared gauge\nshared 2\n")
    server.push([
        {"job": "compute_pi", "event": "success", "run_id": f"pi-{i}", "duration_seconds": 30 + i,
         "timestamp": clock.now - (9 - i) * 3600}
        for i in range(8)
    ] + [
        {"job": "compute_pi", "event": "start", "run_id": "pi-now", "timestamp": clock.now - 1860,
         "progress": {"done": 3, "total": 100}},
        {"job": "compute_pi", "event": "progress", "run_id": "pi-now",
         "progress": {"done": 4, "total": 100}},
        {"job": "report", "event": "start", "run_id": "rep-1", "progress": {"percent": 20}},
    ])  # fmt: skip

    async def evaluate(app: web.Application) -> None:
        await app[ALERTING].evaluate_all(full=True)

    server.call(evaluate)


def _rows(driver: WebDriver) -> dict[str, dict[str, Any]]:
    """Each row of the jobs table: its status, the colour of its badge, whether its run is
    marked long (and the mark shown on screen), its runs column."""
    rows: dict[str, dict[str, Any]] = driver.execute_script(
        "const found = {};"
        "for (const row of document.querySelectorAll('#jobs-table tr[data-job-key]')) {"
        "  const badge = row.querySelector('.badge');"
        "  const mark = row.querySelector('.long-run');"
        "  const box = mark && mark.getBoundingClientRect();"
        "  found[row.querySelector('td.name a').textContent] = {"
        "    status: badge.textContent, colour: getComputedStyle(badge).backgroundColor,"
        "    long: mark ? mark.textContent.trim() : null,"
        "    long_shown: Boolean(box && box.width > 0 && box.right <= innerWidth),"
        "    runs: row.cells[row.cells.length - 1].textContent.trim(),"
        "  };"
        "}"
        "return found;"
    )
    return rows


def test_groups_have_their_own_status_and_long_runs_are_marked(
    tmp_path: Path, browser: WebDriver
) -> None:
    clock = Clock(1_800_000_000.0)
    with serving(tmp_path, clock, alerting=alerting(tmp_path, rules=RULES)) as dashboard:
        _fill(dashboard, clock)
        browser.get(f"{dashboard.url}/ui/jobs")
        live(browser)
        rows = _rows(browser)
        statuses = {job: row["status"] for job, row in rows.items()}
        assert statuses == {
            "compute_pi": "running", "db_dump": "push failed", "nightly_export": "stale",
            "report": "running", "shared": "pushed",
        }  # fmt: skip
        colours = {rows[job]["colour"] for job in ("db_dump", "nightly_export", "shared")}
        assert len(colours) == 3
        assert rows["shared"]["runs"] == "—"
        assert rows["compute_pi"]["long"] == "long running 31 min, usually ≤ 37 s"
        assert rows["compute_pi"]["long_shown"]
        assert rows["report"]["long"] is None
        screenshot(browser, dashboard.screenshots / "jobs-laptop.png")
        with as_phone(browser):
            assert _rows(browser)["compute_pi"]["long_shown"]
        screenshot(browser, dashboard.screenshots / "jobs-phone.png", phone=True)

        browser.get(f"{dashboard.url}/")
        live(browser)
        first = browser.execute_script(
            "const row = document.querySelector('#overview-running tr[data-run-id]');"
            "return [row.dataset.runId, row.querySelector('.long-run').textContent.trim()];"
        )
        assert first == ["pi-now", "long running 31 min, usually ≤ 37 s"]
        wait(browser, lambda d: "stale" in d.find_element("id", "overview-attention").text)
        screenshot(browser, dashboard.screenshots / "overview-laptop-dark.png", dark=True)
        screenshot(browser, dashboard.screenshots / "overview-phone.png", phone=True)
        assert errors_in_console(browser) == []
