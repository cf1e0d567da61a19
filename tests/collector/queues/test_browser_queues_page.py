"""In headless Chromium: the Queues page follows what is pushed without a reload: a queue
appears when its first task is queued, and its depth drains as a worker takes them."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver

from tests.collector.dashboard.browser import errors_in_console, live, wait
from tests.collector.dashboard.conftest import Dashboard, browser, dashboard

__all__ = ["browser", "dashboard"]  # the fixtures this file uses, from the dashboard's tests


def _waiting(driver: WebDriver, queue: str) -> str:
    """The queue's waiting cell ("" without a row)."""
    text: str = driver.execute_script(
        "const row = [...document.querySelectorAll('tr[data-queue]')]"
        ".find((r) => r.dataset.queue === arguments[0]);"
        "return row ? row.querySelectorAll('td')[1].textContent : '';",
        queue,
    )
    return text


def test_the_queues_page_follows_a_queue_backing_up_and_draining(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    server = dashboard.server
    browser.get(f"{dashboard.url}/ui/queues")
    live(browser)
    browser.execute_script("window.notReloaded = true")
    task = {"job": "app.tasks.send_email", "queue": "emails"}
    server.push([{**task, "event": "queued", "run_id": f"t{n}"} for n in range(3)])
    wait(browser, lambda d: _waiting(d, "emails") == "3")
    server.push([{**task, "event": "start", "run_id": "t0"},
                 {**task, "event": "success", "run_id": "t0"}])  # fmt: skip
    wait(browser, lambda d: _waiting(d, "emails") == "2")
    assert browser.execute_script("return window.notReloaded") is True
    assert errors_in_console(browser) == []


def test_the_pause_button_leaves_a_command_for_the_queues_workers(
    dashboard: Dashboard, browser: WebDriver
) -> None:
    server = dashboard.server
    server.push(
        {"job": "app.tasks.send_email", "queue": "emails", "event": "queued", "run_id": "a"}
    )
    browser.get(f"{dashboard.url}/ui/queues/emails")
    live(browser)
    browser.execute_script("window.confirm = () => true")
    browser.find_element("css selector", '[data-command-url="queues/emails/pause"]').click()
    wait(browser, lambda d: "asked" in d.find_element(
        "css selector", '[data-command-url="queues/emails/pause"]').text)  # fmt: skip
    answer = server.push({"event": "queue_state", "queue": "emails", "waiting": 1})
    assert answer["commands"] == [{"command": "pause", "queue": "emails"}]
