"""In headless Chromium: the groups page says which groups add up what is pushed to them
(pushgateway.aggregate), and lists their families as any group's."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from selenium.webdriver.remote.webdriver import WebDriver

from batchgate.collector.pushgateway import AggregateRule
from batchgate.collector.settings import PushgatewaySettings
from tests.collector.dashboard.browser import errors_in_console, find, wait
from tests.collector.dashboard.conftest import serving


def test_an_aggregating_group_is_marked(tmp_path: Path, browser: WebDriver) -> None:
    aggregate = PushgatewaySettings(aggregate=(AggregateRule("lambda_*", gauges="max"),))
    with serving(tmp_path, pushgateway=aggregate) as dashboard:
        for job in ("lambda_resize", "nightly"):
            body = b"# TYPE invocations counter\ninvocations 1\n"
            request = urllib.request.Request(f"{dashboard.url}/metrics/job/{job}", body)
            with urllib.request.urlopen(request, timeout=10):
                pass
        browser.get(f"{dashboard.url}/ui/groups")
        wait(browser, lambda d: len(find(d, "[data-group]")) == 2)
        items = {
            json.loads(item.get_attribute("data-group") or "{}")["job"]: item
            for item in find(browser, "[data-group]")
        }
        marked = [job for job, item in items.items() if "adds up" in item.text]
        assert marked == ["lambda_resize"], [item.text for item in items.values()]
        assert "adds up · gauges: max" in items["lambda_resize"].text
        assert "1 metric family" in items["lambda_resize"].text  # not counted as a family
        assert not errors_in_console(browser)
