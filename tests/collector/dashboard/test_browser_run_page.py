"""In headless Chromium: a run's page follows the run without a reload: its progress bar,
its events table and its charts grow as the run reports, and its end shows, also for a job
whose name has a glob's characters (`[`, `*`, `?`: the page follows exactly that job)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.collector.dashboard.browser import errors_in_console, live, screenshot, wait
from tests.collector.dashboard.conftest import Dashboard


def _shown(driver: WebDriver) -> dict[str, Any]:
    """What the run page shows, read in one script: the page swaps its regions live."""
    shown: dict[str, Any] = driver.execute_script(
        "const bar = document.querySelector('#run-state .progress');"
        "const line = document.querySelector('#run-charts .series-progress path.line');"
        "const cpu = document.querySelector('#run-charts .series-cpu path.line');"
        "return {"
        "  bar: bar && bar.getAttribute('aria-valuenow'),"
        "  events: [...document.querySelectorAll('#run-events tbody tr')]"
        "    .map((row) => row.cells[1].textContent.trim()),"
        "  progress_points: line ? line.getAttribute('d').split(/[ML]/).length - 1 : 0,"
        "  cpu_points: cpu ? cpu.getAttribute('d').split(/[ML]/).length - 1 : 0,"
        "  status: document.querySelector('#run-state .card .badge').textContent,"
        "};"
    )
    return shown


@pytest.mark.parametrize("job", ["etl_orders", "backup [db1] *nightly?"])
def test_the_run_page_follows_its_run(dashboard: Dashboard, browser: WebDriver, job: str) -> None:
    server = dashboard.server
    start = time.time() - 60
    server.push({"job": job, "event": "start", "run_id": "r-1", "timestamp": start})

    def report(step: int) -> None:
        server.push({
            "job": job, "event": "progress", "run_id": "r-1", "timestamp": start + 5 * step,
            "progress": {"done": step * 10, "total": 100},
            "resources": {"cpu_percent": 40 + step, "memory_bytes": step * 2**20},
        })  # fmt: skip

    report(1)
    report(2)
    browser.get(f"{dashboard.url}/ui/runs/r-1")
    live(browser)
    assert _shown(browser)["events"] == ["progress", "progress", "start"]
    browser.execute_script("window.notReloaded = true")

    report(3)
    wait(browser, lambda d: _shown(d)["events"] == ["progress"] * 3 + ["start"])
    report(4)
    wait(browser, lambda d: len(_shown(d)["events"]) == 5)
    shown = _shown(browser)
    assert shown["bar"] == "40.0"
    assert (shown["progress_points"], shown["cpu_points"]) == (4, 4)
    screenshot(browser, dashboard.screenshots / f"run-following-{quote(job)}.png")

    server.push({"job": job, "event": "success", "run_id": "r-1", "timestamp": start + 30})
    wait(browser, lambda d: _shown(d)["status"] == "succeeded")
    assert _shown(browser)["events"][0] == "success"
    assert browser.execute_script("return window.notReloaded") is True
    assert errors_in_console(browser) == []
