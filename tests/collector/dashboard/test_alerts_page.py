"""GET /ui/alerts, and the alert lists of the overview and the job page, are rendered by the
server: the alerts are in the page itself (nothing says "Loading alerts…"), filtered by
`q`, silenced ones apart, with the active silences; each severity drawn by its rank."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.collector.alerting.conftest import alerting
from tests.collector.dashboard.page import Element, page
from tests.helpers import Client, Clock, evaluate_rules, push

RULES = """
rules:
  - {name: JobFailed, kind: failure, match: {job: backup}, severity: high}
  - {name: ReportFailed, kind: failure, match: {job: report}, severity: medium}
  - name: ImportStuck
    kind: stuck
    no_progress_for: 10m
    for: 10m
    severity_tiers: [{after: 10m, severity: sev3}, {after: 1h, severity: sev2}]
"""


def _titles(section: Element) -> list[str]:
    return [item.one("span", "alert-title").text for item in section.all("li", data_alert_id=True)]


async def _alerts(start: Any, tmp_path: Path, clock: Clock) -> Client:
    client: Client = await start(alerting=alerting(tmp_path, rules=RULES))
    await push(client, [
        {"job": "backup", "labels": {"host": "db2"}, "event": "fail", "message": "disk full"},
        {"job": "report", "event": "fail"},
        {"job": "import", "event": "start", "run_id": "imp-1", "progress": {"done": 1},
         "lost_after": 86400},
    ])  # fmt: skip
    clock.advance(11 * 60)  # ImportStuck: pending
    await evaluate_rules(client)
    return client


async def test_the_alerts_are_in_the_page_the_server_sends(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    client = await _alerts(start, tmp_path, clock)
    document = await page(client, "/ui/alerts")
    assert "Loading" not in document.text
    firing = document.one("section", id="alerts-firing")
    assert sorted(_titles(firing)) == ["JobFailed", "ReportFailed"]
    backup = next(
        item for item in firing.all("li", data_alert_id=True) if "backup" in item.text
    )  # fmt: skip
    assert backup.one("a", href="ui/jobs/backup?label=host%3Ddb2").text == "backup"
    assert "host=db2" in backup.text
    assert backup.one("button", data_action="silence")
    assert _titles(document.one("section", id="alerts-pending")) == ["ImportStuck"]
    assert "No active silence." in document.one("section", id="silences").text


async def test_a_silenced_alert_is_listed_apart_with_its_silence(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    client = await _alerts(start, tmp_path, clock)
    response = await client.post("/silences", json={
        "matchers": [{"name": "job", "value": "report", "isRegex": False, "isEqual": True}],
        "startsAt": "2023-11-14T22:00:00Z", "endsAt": "2023-11-15T22:00:00Z",
        "createdBy": "ops", "comment": "report server moves tonight",
    })  # fmt: skip
    assert response.status == 200
    document = await page(client, "/ui/alerts")
    assert "ReportFailed" not in _titles(document.one("section", id="alerts-firing"))
    silenced = document.one("section", id="alerts-silenced")
    assert _titles(silenced) == ["ReportFailed"]
    assert silenced.one("li", data_alert_id=True).one("span", "status-silenced").text == "silenced"
    silence = document.one("section", id="silences").one("li", data_silence_id=True)
    assert 'job="report"' in silence.text
    assert "report server moves tonight" in silence.text


async def test_the_filter_keeps_alerts_whose_name_job_or_labels_match(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    client = await _alerts(start, tmp_path, clock)
    document = await page(client, "/ui/alerts?q=DB2")
    assert _titles(document.one("section", id="alerts-firing")) == ["JobFailed"]
    assert _titles(document.one("section", id="alerts-pending")) == []
    assert document.one("input", name="q").attrs["value"] == "DB2"


async def test_every_severity_has_a_colour_in_order(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    def ranks(document: Element) -> dict[str, int]:
        found = {}
        for badge in document.all("span", "badge"):
            for name in badge.classes:
                if name.startswith("severity-rank-"):
                    found[badge.text] = int(name.removeprefix("severity-rank-"))
        return found

    client = await _alerts(start, tmp_path, clock)
    clock.advance(10 * 60)  # ImportStuck fires, at its first tier
    await evaluate_rules(client)
    # high is never calmer than warning (medium); a team's own words follow their tiers.
    assert ranks(await page(client, "/ui/alerts")) == {"high": 2, "medium": 1, "sev3": 0}
    clock.advance(60 * 60)  # its second tier
    await evaluate_rules(client)
    assert ranks(await page(client, "/ui/alerts"))["sev2"] == 1


async def test_the_overview_lists_firing_alerts_in_its_own_html(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    client = await _alerts(start, tmp_path, clock)
    listed = (await page(client, "/")).one("section", id="overview-alerts")
    assert sorted(_titles(listed)) == ["JobFailed", "ReportFailed"]
    assert listed.one("a", href="ui/alerts").text == "All alerts →"


async def test_the_job_page_lists_the_alerts_of_its_label_set(
    start: Any, tmp_path: Path, clock: Clock
) -> None:
    client = await _alerts(start, tmp_path, clock)
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "success"})
    listed = (await page(client, "/ui/jobs/backup?label=host=db2")).one("section", id="job-alerts")
    assert _titles(listed) == ["JobFailed"]
    quiet = (await page(client, "/ui/jobs/backup?label=host=db1")).one("section", id="job-alerts")
    assert quiet.one("p", "empty").text == "No alert for this job."
