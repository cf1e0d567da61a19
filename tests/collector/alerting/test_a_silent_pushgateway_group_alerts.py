"""An `absent` rule covers groups pushed through the Pushgateway API: a group not pushed for
`absent_for` fires, and its next push resolves it."""

from __future__ import annotations

from batchgate.collector.http.keys import ALERTING
from tests.collector.alerting.conftest import StartWith
from tests.helpers import Client, Clock, evaluate_rules, get

RULES = """
rules:
  - {name: GroupSilent, kind: absent, absent_for: 1h, match: {job_kind: pushgateway}}
"""


async def _push_group(client: Client) -> None:
    response = await client.put("/metrics/job/nightly/instance/db1", data=b"rows_loaded 42\n")
    assert response.status == 200, await response.text()


async def test_a_group_not_pushed_for_an_hour_fires_and_its_next_push_resolves_it(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)
    await _push_group(client)
    clock.advance(3601)
    await evaluate_rules(client)
    (alert,) = (await get(client, "/alerts", state="firing"))["alerts"]
    assert (alert["alertname"], alert["job"], alert["job_labels"]) == (
        "GroupSilent",
        "nightly",
        {"instance": "db1"},
    )

    await _push_group(client)  # resolves it within the push
    assert [a["state"] for a in (await get(client, "/alerts"))["alerts"]] == ["resolved"]


async def test_the_next_push_resolves_it_at_once_not_at_the_next_pass(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES, evaluation_interval=3600.0)
    await _push_group(client)
    clock.advance(3601)
    await client.app[ALERTING].evaluate_all()
    (alert,) = (await get(client, "/alerts", state="firing"))["alerts"]
    assert alert["alertname"] == "GroupSilent"

    await _push_group(client)
    alerts = (await get(client, "/alerts"))["alerts"]
    assert [(a["alertname"], a["state"]) for a in alerts] == [("GroupSilent", "resolved")]


async def test_the_servers_downtime_does_not_count_as_a_groups_silence(
    start_with: StartWith, clock: Clock
) -> None:
    """Down for two hours, batchgate heard no push; its clients were pushing meanwhile. The
    group is absent an hour of the server's uptime after its last push, not at the start."""
    client = await start_with(rules=RULES)
    clock.advance(1800)
    await _push_group(client)
    await client.close()

    clock.advance(7200)
    client = await start_with(rules=RULES)
    alerting = client.app[ALERTING]

    async def firing() -> list[str]:
        await alerting.evaluate_all(full=True)
        alerts = (await get(client, "/alerts", state="firing"))["alerts"]
        return [a["alertname"] for a in alerts]

    assert await firing() == []
    clock.advance(3599)
    assert await firing() == []
    clock.advance(2)
    assert await firing() == ["GroupSilent"]
