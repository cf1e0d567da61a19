"""Headless Chromium (Debian's `chromium` and `chromium-driver`, driven by selenium) against a
batchgate served from a thread of the test process, and screenshots of what it shows."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers import free_port, need_program

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)  # fmt: skip


class ThreadedServer:
    """An aiohttp app on a real port, run by its own event loop on a thread, so that the
    test can block on the browser while the server serves it."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="batchgate-test", daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._started.wait(30):
            raise AssertionError("the server did not start within 30s")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the test thread
            self._error = error
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, shutdown_timeout=2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def call(self, work: Callable[[web.Application], Coroutine[Any, Any, Any]]) -> Any:
        """`work(app)` run on the server's own event loop (to trigger periodic work now)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work(self.app), self._loop).result(30)

    def put(self, path: str, body: str, expect: int = 200) -> None:
        """A Pushgateway push (PUT of the text format)."""
        request = urllib.request.Request(f"{self.url}{path}", body.encode(), method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == expect, f"PUT {path}: {status}"

    def push(self, body: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/push", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            result: dict[str, Any] = json.loads(answer.read())
            return result

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as answer:
            return json.loads(answer.read())


def chromium(directory: Path) -> WebDriver:
    """A fresh headless Chromium with its own profile in `directory`; never downloads one."""
    binary = need_program("chromium")
    driver_binary = need_program("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={directory}")
    options.add_argument("--window-size=1366,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver_binary))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], within: float = 10.0) -> Any:
    """Poll `condition` until it holds. A live page swaps its regions as events arrive, so an
    element found by one poll may be replaced before it is read: that poll counts as not yet."""
    return WebDriverWait(
        driver,
        within,
        poll_frequency=0.05,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(condition)


def find(driver: WebDriver | WebElement, css: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, css)


def live(driver: WebDriver) -> None:
    """Wait until the page follows the server's events."""
    wait(driver, lambda d: find(d, '#live-status[data-state="live"]'))


def errors_in_console(driver: WebDriver) -> list[str]:
    """Console errors since the last call (failed loads included)."""
    entries = driver.get_log("browser")  # type: ignore[attr-defined]  # Chromium's, not in the stubs
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
"""A phone's screen, in CSS pixels (an iPhone 12 to 14)."""


@contextlib.contextmanager
def as_phone(driver: WebDriver) -> Iterator[None]:
    """The page laid out on a phone's screen (PHONE) while inside."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def screenshot(driver: WebDriver, path: Path, *, phone: bool = False, dark: bool = False) -> Path:
    """The whole page (not only the window) as a PNG, as a laptop or a phone shows it, light
    or dark."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if phone:
        with as_phone(driver):
            return screenshot(driver, path, dark=dark)
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )
    driver.execute_async_script(  # two frames: the new layout and colours are painted
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(done));"
    )
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
