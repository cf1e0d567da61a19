"""In headless Chromium: every page, on a laptop and a phone, light and dark, renders without
a console error; a screenshot of each is saved under the test's directory (tmp_path)."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.collector.dashboard.browser import errors_in_console, find, screenshot, wait
from tests.collector.dashboard.conftest import Dashboard

PAGES = {
    "overview": "/",
    "jobs": "/ui/jobs",
    "job": "/ui/jobs/etl_orders",
    "run": "/ui/runs/etl-live",
    "alerts": "/ui/alerts",
    "groups": "/ui/groups",
}


def _fill(dashboard: Dashboard) -> None:
    now = time.time()
    history = [
        {"job": "etl_orders", "event": "fail" if i % 9 == 8 else "success",
         "duration_seconds": 300 + 40 * (i % 7), "timestamp": now - (40 - i) * 3600,
         "progress": {"done": 20_000 + 100 * i, "total": 20_000 + 100 * i},
         "message": "bad record at offset 1823" if i % 9 == 8 else None}
        for i in range(40)
    ] + [
        {"job": "backup_db", "labels": {"host": "db2"}, "event": "fail", "exit_code": 11,
         "message": "rsync: No space left on device (28)", "duration_seconds": 12},
        {"job": "report_weekly", "event": "success", "duration_seconds": 80},
        {"job": "import_customers", "event": "start", "run_id": "stuck-1",
         "timestamp": now - 1200, "progress": {"done": 3120, "total": 10_000}},
        {"job": "import_customers", "event": "progress", "run_id": "stuck-1",
         "resources": {"cpu_percent": 1}},
    ]  # fmt: skip
    dashboard.server.push(history)
    dashboard.server.push({"job": "etl_orders", "event": "start", "run_id": "etl-live",
                           "timestamp": now - 40})  # fmt: skip
    for step in range(1, 9):
        dashboard.server.push({
            "job": "etl_orders", "event": "progress", "run_id": "etl-live",
            "timestamp": now - 40 + step * 5,
            "progress": {"done": step * 1000, "total": 20_000},
            "resources": {"cpu_percent": 60 + step * 3, "memory_bytes": (100 + step * 8) * 2**20},
            "metrics": {"rows_per_second": 180.0 + step, "rejected_rows": step // 3},
        })  # fmt: skip
    if dashboard.pushgateway is not None:
        dashboard.pushgateway.push({"job": "backup", "instance": "db1"}, {"bytes": "Bytes."})
    else:
        dashboard.server.put(
            "/metrics/job/backup/instance/db1", "# HELP bytes Bytes.\n# TYPE bytes gauge\nbytes 1\n"
        )


@pytest.mark.parametrize(("mode", "phone", "dark"), [
    ("laptop", False, False), ("laptop-dark", False, True),
    ("phone", True, False), ("phone-dark", True, True),
])  # fmt: skip
def test_every_page_renders_and_is_captured(
    dashboard: Dashboard, browser: WebDriver, mode: str, phone: bool, dark: bool
) -> None:
    _fill(dashboard)
    for name, path in PAGES.items():
        browser.get(dashboard.url + path)
        wait(browser, lambda d: find(d, '#live-status[data-state="live"]'))
        # Pages filled by their scripts have finished loading.
        wait(browser, lambda d: not d.execute_script(
            "return [...document.querySelectorAll('main .muted')]"
            ".some((e) => e.textContent.startsWith('Loading'))"
        ))  # fmt: skip
        shot = screenshot(
            browser, dashboard.screenshots / f"{name}-{mode}.png", phone=phone, dark=dark
        )
        assert shot.stat().st_size > 10_000
        assert errors_in_console(browser) == [], name
        words = set(
            browser.execute_script("return document.querySelector('main').innerText").split()
        )
        assert not words & {"null", "undefined", "NaN", "[object"}, name  # script slips
