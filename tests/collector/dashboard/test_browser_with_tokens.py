"""In headless Chromium, with tokens configured: a `read` token (sent by the browser as basic
auth, name and token) opens the pages and follows the live events; silencing, which needs
`admin`, is refused and the form says so."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from batchgate.collector.auth import ADMIN, READ, Token
from batchgate.collector.http.app import create_app
from batchgate.collector.settings import Settings
from tests.collector.dashboard.browser import ThreadedServer, find, live, wait

SECRETS = {"reader": "r-secret", "admin": "a-secret"}
TOKENS = tuple(
    Token(name, role, hashlib.sha256(SECRETS[name].encode()).hexdigest())
    for name, role in (("reader", READ), ("admin", ADMIN))
)


def test_a_read_token_sees_everything_but_may_not_silence(
    tmp_path: Path, browser: WebDriver
) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", tokens=TOKENS))
    with ThreadedServer(app) as server:
        host = server.url.removeprefix("http://")
        browser.get(f"http://reader:{SECRETS['reader']}@{host}/ui/jobs")
        live(browser)  # the event stream is authenticated as the page was
        request = urllib.request.Request(
            f"{server.url}/push",
            b'{"job": "backup", "event": "fail", "message": "disk full"}',
            {"Content-Type": "application/json", "Authorization": f"Bearer {SECRETS['admin']}"},
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        wait(browser, lambda d: "backup" in d.find_element(By.ID, "jobs-table").text)

        browser.get(f"http://{host}/ui/alerts")
        deadline = time.monotonic() + 30
        while not find(browser, '#alerts-firing [data-action="silence"]'):
            assert time.monotonic() < deadline, "JobFailed did not fire"
            browser.refresh()
            wait(browser, lambda d: find(d, "#alerts-firing"))
        find(browser, '#alerts-firing [data-action="silence"]')[0].click()
        find(browser, 'form.silence-form button[type="submit"]')[0].click()
        error = browser.find_element(By.CSS_SELECTOR, ".form-error")
        wait(browser, lambda d: "Could not silence" in error.text)
        assert "needs admin" in error.text
