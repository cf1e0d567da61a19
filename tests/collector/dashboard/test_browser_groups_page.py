"""In headless Chromium: the groups page lists Pushgateway groups with their last push time,
and its delete button deletes a group (DELETE /metrics/job/...)."""

from __future__ import annotations

import base64
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.collector.dashboard.browser import errors_in_console, find, screenshot, wait
from tests.collector.dashboard.conftest import Dashboard

GROUPS = (
    {"job": "backup", "instance": "db1"},
    {"job": "backup", "instance": "db/2"},  # needs the @base64 form in the URL
    {"job": "nightly_report"},
)


def _push_groups(dashboard: Dashboard) -> None:
    if dashboard.pushgateway is not None:
        for labels in GROUPS:
            dashboard.pushgateway.push(dict(labels), {"backup_last_size_bytes": "Bytes copied."})
        return
    for labels in GROUPS:
        path = "/metrics/job/" + labels["job"]
        for name, value in sorted(labels.items()):
            if name != "job":
                encoded = base64.urlsafe_b64encode(value.encode()).decode()
                path += f"/{name}@base64/{encoded}"
        body = b"# HELP backup_last_size_bytes Bytes copied.\n# TYPE backup_last_size_bytes gauge\n"
        body += b"backup_last_size_bytes 1\n"
        request = urllib.request.Request(dashboard.url + path, body, method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            pass


def _groups(driver: WebDriver) -> list[str]:
    shown: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('[data-group]')].map((g) => g.dataset.group);"
    )
    return shown


def test_groups_are_listed_and_one_can_be_deleted(dashboard: Dashboard, browser: WebDriver) -> None:
    _push_groups(dashboard)
    browser.get(f"{dashboard.url}/ui/groups")
    wait(browser, lambda d: len(_groups(d)) == 3)
    assert "last push" in find(browser, "[data-group]")[0].text
    screenshot(browser, dashboard.screenshots / "groups.png")

    browser.get(f"{dashboard.url}/ui/groups?q=backup")  # as the jobs table links a group
    wait(browser, lambda d: len(_groups(d)) == 2)
    assert find(browser, "[data-groups-filter] input")[0].get_attribute("value") == "backup"
    target = next(item for item in find(browser, "[data-group]") if "db/2" in item.text)
    target.find_element(By.CSS_SELECTOR, '[data-action="delete-group"]').click()
    browser.switch_to.alert.accept()  # "Delete the group ...?"
    wait(browser, lambda d: len(_groups(d)) == 1)  # of the two backup groups shown
    remaining = dashboard.server.get("/api/v1/metrics")["data"]
    assert sorted(g["labels"].get("instance", "") for g in remaining) == ["", "db1"]
    assert errors_in_console(browser) == []
