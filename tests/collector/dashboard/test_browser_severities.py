"""In headless Chromium: every alert severity is drawn in a colour of its rank, none in the
grey of "unknown", and a louder severity never in a calmer colour than a quieter one
(info and low < warning and medium < high, critical and page; a team's own word follows
its rule's tiers)."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.remote.webdriver import WebDriver

from tests.collector.alerting.conftest import alerting
from tests.collector.dashboard.browser import errors_in_console, screenshot, wait
from tests.collector.dashboard.conftest import serving

SEVERITIES = ("info", "low", "warning", "medium", "high", "critical", "page", "sev1")

RULES = "rules:\n" + "".join(
    f"  - {{name: Failed_{severity}, kind: failure, match: {{job: job_{severity}}}, "
    f"severity: {severity}}}\n"
    for severity in SEVERITIES
)


def _colours(driver: WebDriver) -> dict[str, str]:
    """The background colour of each severity badge, by severity."""
    colours: dict[str, str] = driver.execute_script(
        "const found = {};"
        "for (const badge of document.querySelectorAll('#alerts-firing .badge[class*=severity-]'))"
        "  found[badge.textContent] = getComputedStyle(badge).backgroundColor;"
        "return found;"
    )
    return colours


def _grey(driver: WebDriver) -> str:
    """The colour of a badge nothing colours: an unknown status."""
    grey: str = driver.execute_script(
        "const badge = document.createElement('span'); badge.className = 'badge';"
        "document.querySelector('main').append(badge);"
        "const colour = getComputedStyle(badge).backgroundColor; badge.remove(); return colour;"
    )
    return grey


def test_every_severity_has_a_colour_and_high_is_never_calmer_than_warning(
    tmp_path: Path, browser: WebDriver
) -> None:
    with serving(tmp_path, alerting=alerting(tmp_path, rules=RULES)) as dashboard:
        dashboard.server.push([{"job": f"job_{s}", "event": "fail"} for s in SEVERITIES])
        browser.get(f"{dashboard.url}/ui/alerts")
        wait(browser, lambda d: len(_colours(d)) == len(SEVERITIES))
        colours = _colours(browser)
        grey = _grey(browser)
        for dark in (False, True):
            screenshot(browser, dashboard.screenshots / f"severities-{dark=}.png", dark=dark)
        assert errors_in_console(browser) == []
    assert grey not in colours.values(), colours
    calm, warm, loud = colours["info"], colours["warning"], colours["critical"]
    assert len({calm, warm, loud}) == 3
    assert colours["low"] == calm
    assert colours["medium"] == warm
    assert colours["high"] == colours["page"] == loud
    assert colours["sev1"] == warm  # a word no rule orders: not taken for calm
