"""In headless Chromium on a phone's screen: the overview shows the firing alerts and the
jobs that need attention first, on the first screen, and the status counts after them; a
laptop keeps the counts on top."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver

from tests.collector.dashboard.browser import PHONE, as_phone, errors_in_console, live, screenshot
from tests.collector.dashboard.conftest import Dashboard

SECTIONS = ("overview-alerts", "overview-attention", "overview-counts", "overview-running")


def _boxes(driver: WebDriver) -> dict[str, dict[str, float]]:
    """Where each section of the overview and its first item are on the page (CSS px)."""
    boxes: dict[str, dict[str, float]] = driver.execute_script(
        "const box = (e) => { const r = e.getBoundingClientRect();"
        "  return {top: r.top + scrollY, bottom: r.bottom + scrollY}; };"
        "return Object.fromEntries(arguments[0].flatMap((id) => {"
        "  const section = document.getElementById(id);"
        "  const first = section.querySelector('li, tbody tr');"
        "  return [[id, box(section)], ...(first ? [[id + ' first', box(first)]] : [])];"
        "}));",
        list(SECTIONS),
    )
    return boxes


def test_on_a_phone_alerts_and_attention_come_first(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    dashboard.server.push([
        *({"job": f"etl_{i:02d}", "event": "success", "duration_seconds": 30} for i in range(12)),
        {"job": "backup_db", "labels": {"host": "db2"}, "event": "fail", "exit_code": 11,
         "message": "rsync: No space left on device (28)"},
        {"job": "report", "event": "start", "run_id": "rep-1", "progress": {"percent": 40}},
    ])  # fmt: skip
    browser.get(f"{dashboard.url}/")
    live(browser)
    laptop = _boxes(browser)
    assert laptop["overview-counts"]["top"] < laptop["overview-alerts"]["top"]

    with as_phone(browser):
        phone = _boxes(browser)
    tops = [phone[section]["top"] for section in SECTIONS]
    assert tops == sorted(tops), phone
    # The failed backup's alert and its row are on the first screen, below the header.
    assert phone["overview-alerts first"]["bottom"] <= PHONE["height"]
    assert phone["overview-attention first"]["bottom"] <= PHONE["height"]
    screenshot(browser, dashboard.screenshots / "overview-phone.png", phone=True)
    screenshot(browser, dashboard.screenshots / "overview-laptop.png")
    assert errors_in_console(browser) == []
