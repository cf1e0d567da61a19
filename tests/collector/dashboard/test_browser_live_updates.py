"""In headless Chromium: the jobs appear, and the page follows what is pushed without a
reload: a progress bar moves, a finished run and a new job show up, and with no event
stream the page polls."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from batchgate.collector.http.web.pages import job_key
from tests.collector.dashboard.browser import errors_in_console, find, live, screenshot, wait
from tests.collector.dashboard.conftest import Dashboard


def _bar(driver: WebDriver, run_id: str) -> str | None:
    """The run's progress bar value, read in one script: the page swaps regions live."""
    value: str | None = driver.execute_script(
        "const bar = document.querySelector(`.progress-cell[data-run-id='${arguments[0]}'] "
        ".progress`); return bar && bar.getAttribute('aria-valuenow');",
        run_id,
    )
    return value


def _badge(driver: WebDriver, key: str) -> str:
    """The status badge of the job's row ("" without a row)."""
    text: str = driver.execute_script(
        "const row = [...document.querySelectorAll('tr[data-job-key]')]"
        ".find((r) => r.dataset.jobKey === arguments[0]);"
        "return row ? row.querySelector('.badge').textContent : '';",
        key,
    )
    return text


def test_a_pushed_progress_event_moves_the_bar_without_a_reload(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    server = dashboard.server
    server.push([
        {"job": "backup", "labels": {"host": "db2"}, "event": "fail", "message": "disk full"},
        {"job": "etl", "event": "start", "run_id": "etl-1", "progress": {"done": 10, "total": 100}},
    ])  # fmt: skip
    browser.get(f"{dashboard.url}/ui/jobs")
    live(browser)
    keys = [row.get_attribute("data-job-key") for row in find(browser, "tr[data-job-key]")]
    assert keys == [job_key("backup", {"host": "db2"}), job_key("etl", {})]
    assert _bar(browser, "etl-1") == "10.0"
    screenshot(browser, dashboard.screenshots / "jobs-before.png")
    browser.execute_script("window.notReloaded = true")

    server.push({"job": "etl", "event": "progress", "run_id": "etl-1",
                 "progress": {"done": 60, "total": 100}})  # fmt: skip
    wait(browser, lambda d: _bar(d, "etl-1") == "60.0")
    cell = find(browser, '.progress-cell[data-run-id="etl-1"]')[0]
    assert "width: 60" in (cell.find_element("css selector", ".bar").get_attribute("style") or "")
    assert "60 / 100" in cell.text

    server.push([{"job": "etl", "event": "success", "run_id": "etl-1"},
                 {"job": "report", "event": "start", "run_id": "rep-1"}])  # fmt: skip
    wait(browser, lambda d: _badge(d, job_key("etl", {})) == "succeeded")
    wait(browser, lambda d: _badge(d, job_key("report", {})) == "running")
    assert browser.execute_script("return window.notReloaded") is True
    screenshot(browser, dashboard.screenshots / "jobs-after.png")
    assert errors_in_console(browser) == []


def test_the_browser_computes_the_row_keys_the_server_writes(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    labels = {"owner": 'Zoë "the" <admin>', "env": "prod\\1", "b": ""}
    dashboard.server.push({"job": "etl", "labels": labels, "event": "success"})
    browser.get(f"{dashboard.url}/ui/jobs")
    row = find(browser, "tr[data-job-key]")[0]
    in_browser = browser.execute_script("return batchgate.jobKey('etl', arguments[0])", labels)
    assert row.get_attribute("data-job-key") == in_browser == job_key("etl", labels)


def test_without_an_event_stream_the_page_polls(dashboard: Dashboard, browser: WebDriver) -> None:
    browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"}
    )
    dashboard.server.push({"job": "etl", "event": "start", "run_id": "etl-1"})
    browser.get(f"{dashboard.url}/ui/jobs")
    wait(browser, lambda d: find(d, '#live-status[data-state="polling"]'))
    browser.execute_script("window.notReloaded = true")
    dashboard.server.push({"job": "etl", "event": "fail", "run_id": "etl-1"})
    wait(browser, lambda d: _badge(d, job_key("etl", {})) == "failed", within=15)
    assert browser.execute_script("return window.notReloaded") is True


def test_the_history_filter_redraws_the_runs_in_place(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    dashboard.server.push([
        {"job": "nightly", "event": "fail" if i % 3 == 0 else "success", "run_id": f"n-{i}",
         "duration_seconds": 10 + i}
        for i in range(9)
    ])  # fmt: skip
    browser.get(f"{dashboard.url}/ui/jobs/nightly")
    live(browser)
    browser.execute_script("window.notReloaded = true")

    def shown(driver: WebDriver) -> list[str]:
        ids: list[str] = driver.execute_script(
            "return [...document.querySelectorAll('#job-history tr[data-run-id]')]"
            ".map((row) => row.dataset.runId);"
        )
        return ids

    assert len(shown(browser)) == 9
    select = find(browser, '#job-history select[name="status"]')[0]
    Select(select).select_by_visible_text("failed")
    wait(browser, lambda d: sorted(shown(d)) == ["n-0", "n-3", "n-6"])
    assert browser.execute_script("return location.search") == "?status=failed"
    assert browser.execute_script("return window.notReloaded") is True
