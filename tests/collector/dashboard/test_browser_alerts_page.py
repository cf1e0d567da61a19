"""In headless Chromium: the alerts page shows firing, pending, silenced and resolved alerts,
and silencing an alert for a chosen time works (POST /silences), as does expiring it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.collector.dashboard.browser import errors_in_console, find, live, screenshot, wait
from tests.collector.dashboard.conftest import Dashboard


def _section_ids(driver: WebDriver, section: str) -> list[str]:
    ids: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} [data-alert-id]`)]"
        ".map((item) => item.querySelector('.alert-title').textContent);",
        section,
    )
    return ids


def _firing_job_failed(dashboard: Dashboard) -> None:
    """A failed backup: the default rules' JobFailed fires (evaluated within the push)."""
    dashboard.server.push({"job": "backup", "labels": {"host": "db2"}, "event": "fail",
                           "run_id": "b-1", "message": "disk full", "exit_code": 2})  # fmt: skip
    firing = dashboard.server.get("/alerts?state=firing")["alerts"]
    assert [a["alertname"] for a in firing] == ["JobFailed"]


def _silences(dashboard: Dashboard) -> list[dict[str, Any]]:
    answer = dashboard.server.get("/silences")
    silences: list[dict[str, Any]] = answer if isinstance(answer, list) else answer["silences"]
    return [s for s in silences if s["status"]["state"] == "active"]


def test_silencing_an_alert_from_the_alerts_page(dashboard: Dashboard, browser: WebDriver) -> None:
    _firing_job_failed(dashboard)
    browser.get(f"{dashboard.url}/ui/alerts")
    wait(browser, lambda d: "JobFailed" in _section_ids(d, "alerts-firing"))
    screenshot(browser, dashboard.screenshots / "alerts-firing.png")

    item = next(
        element for element in find(browser, "#alerts-firing [data-alert-id]")
        if "JobFailed" in element.text
    )  # fmt: skip
    item.find_element(By.CSS_SELECTOR, '[data-action="silence"]').click()
    form = item.find_element(By.CSS_SELECTOR, "form.silence-form")
    Select(form.find_element(By.NAME, "duration")).select_by_visible_text("4h")
    assert 'alertname="JobFailed"' in form.find_element(By.CSS_SELECTOR, ".matchers").text
    comment = form.find_element(By.NAME, "comment")
    comment.clear()
    comment.send_keys("db2's disk is being replaced")
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()

    wait(browser, lambda d: "JobFailed" in _section_ids(d, "alerts-silenced"))
    assert "JobFailed" not in _section_ids(browser, "alerts-firing")
    (silence,) = _silences(dashboard)
    matchers = {m["name"]: m["value"] for m in silence["matchers"]}
    assert matchers["alertname"] == "JobFailed"
    assert (matchers["job"], matchers["host"]) == ("backup", "db2")
    assert "severity" not in matchers
    assert "run_id" not in matchers  # "this alert of this job": any run
    assert silence["comment"] == "db2's disk is being replaced"
    hours = (_time(silence["endsAt"]) - _time(silence["startsAt"])) / 3600
    assert abs(hours - 4) < 0.01
    screenshot(browser, dashboard.screenshots / "alerts-silenced.png")

    find(browser, '#silences [data-action="expire"]')[0].click()
    wait(browser, lambda d: "JobFailed" in _section_ids(d, "alerts-firing"))
    assert _silences(dashboard) == []
    assert errors_in_console(browser) == []


def _time(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def test_the_job_page_lists_the_jobs_alerts(dashboard: Dashboard, browser: WebDriver) -> None:
    _firing_job_failed(dashboard)
    browser.get(f"{dashboard.url}/ui/jobs/backup")
    assert "JobFailed" in find(browser, "#job-alerts")[0].text
    browser.get(f"{dashboard.url}/")
    assert "JobFailed" in find(browser, "#overview-alerts")[0].text
    assert errors_in_console(browser) == []


def test_the_alerts_page_is_drawn_at_once_then_follows_new_alerts(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    _firing_job_failed(dashboard)
    browser.get(f"{dashboard.url}/ui/alerts")
    # In the page as it arrives: no script had to run for it.
    assert "JobFailed" in _section_ids(browser, "alerts-firing")
    assert "Loading" not in browser.find_element(By.TAG_NAME, "main").text
    live(browser)
    browser.execute_script("window.notReloaded = true")
    dashboard.server.push({"job": "report", "event": "fail", "message": "no data"})
    wait(browser, lambda d: len(_section_ids(d, "alerts-firing")) == 2)
    assert browser.execute_script("return window.notReloaded") is True
    screenshot(browser, dashboard.screenshots / "alerts-live.png")
    assert errors_in_console(browser) == []
