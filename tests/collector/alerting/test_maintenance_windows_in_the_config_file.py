"""maintenance_windows: in the config file: recurring silences in effect beside the API's,
listed by GET /silences, refused by DELETE (they belong to the file), and every mistake
reported with its line."""

from __future__ import annotations

import textwrap

from batchgate.collector.alerting.settings import alerting_settings
from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Clock, checked, evaluate_rules, get, push

# The clock starts at 2023-11-14T22:13:20Z, a Tuesday, 23:13:20 in Berlin.
CONFIG = """
maintenance_windows:
  - name: db-maintenance
    matchers: ['job=~"etl_.*"', 'env!="dev"']
    schedule: "0 23 * * 2"
    duration: 1h
    timezone: Europe/Berlin
    comment: weekly database maintenance
"""


def _windows(text: str):
    settings, errors = alerting_settings(textwrap.dedent(text), "batchgate.yaml")
    return settings.maintenance_windows, [str(error) for error in errors]


async def test_a_window_of_the_config_file_mutes_while_open(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    windows, errors = _windows(CONFIG)
    assert errors == []
    client = await start_with(receivers=webhook(receiver), maintenance_windows=windows)

    (listed,) = await get(client, "/silences")
    assert (listed["id"], listed["status"], listed["createdBy"]) == (
        "config:db-maintenance", {"state": "active"}, "the config file",
    )  # fmt: skip
    assert listed["recurrence"] == {
        "schedule": "0 23 * * 2", "duration": "1h", "timezone": "Europe/Berlin",
    }  # fmt: skip
    page = await (await client.get("/ui/alerts")).text()
    assert "every <code>0 23 * * 2</code> (Europe/Berlin) for 1h" in page
    assert 'data-silence-id="config:db-maintenance"' in page
    refused = await client.delete("/silences/config:db-maintenance")
    assert refused.status == 409
    assert "config file" in (await refused.json())["error"]

    await push(client, {"job": "etl_orders", "labels": {"env": "prod"}, "event": "fail"})
    await push(client, {"job": "etl_orders", "labels": {"env": "dev"}, "event": "fail"})
    (message,) = await receiver.wait_for(1)
    assert message["alerts"][0]["labels"]["env"] == "dev"

    clock.advance(47 * 60)  # Wednesday 00:00:20 in Berlin
    await evaluate_rules(client)
    _, late = await receiver.wait_for(2)
    assert late["alerts"][0]["labels"]["env"] == "prod"
    assert (await checked(await client.get("/silences/config:db-maintenance")))["status"] == {
        "state": "pending"
    }


def test_every_mistake_is_reported_with_its_line() -> None:
    _, errors = _windows(
        """
        maintenance_windows:
          - name: a
            matchers: ['job=~"etl_.*"']
            schedule: "0 23 * *"
            duration: 1h
          - name: a
            matchers: ['env=~".*"']
            schedule: "0 1 * * *"
            duration: soon
            timezone: Europe/Nowhere
            until: tomorrow
          - {name: b, matchers: ['nothing'], schedule: "0 1 * * *"}
        """
    )
    assert sorted(errors) == [
        "batchgate.yaml:12: maintenance window: unknown key 'until' (expected one of: comment, "
        "duration, matchers, name, schedule, timezone)",
        "batchgate.yaml:13: maintenance window: missing required key 'duration'",
        "batchgate.yaml:13: matchers[0]: 'nothing' is not a matcher (name, one of = != =~ !~, "
        'value: alertname="X")',
        "batchgate.yaml:3: maintenance window 'a': schedule: required: a cron expression of "
        "5 fields (m h dom mon dow)",
        "batchgate.yaml:7: maintenance window 'a': duration: invalid duration 'soon': use a "
        "number and a unit, e.g. 30s, 10m, 2h, 1d",
        "batchgate.yaml:7: maintenance window 'a': timezone: unknown time zone 'Europe/Nowhere'",
        "batchgate.yaml:7: maintenance_windows: duplicate name 'a'",
        "batchgate.yaml:8: matchers: they all match the empty string (every alert)",
    ]
