"""Rules that count back over more finished runs than jobs keep (32 by default) make jobs keep
that many: at start, and after a reload (from then on)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from batchgate.collector.settings import load_settings
from tests.collector.alerting.conftest import StartWith
from tests.helpers import Client, Clock, checked, get, push

FLAKY = "rules:\n  - {name: Flaky, kind: failure_rate, above: 0.5, over_last: 40, min_runs: 40}\n"


async def _forty_runs(client: Client, clock: Clock) -> None:
    """21 failures then 19 successes: more than half of 40 failed, fewer than half of 32."""
    for index in range(40):
        clock.advance(60)
        await push(client, {"job": "etl", "event": "fail" if index < 21 else "success"})


async def _firing(client: Client) -> list[str]:
    return [a["alertname"] for a in (await get(client, "/alerts", state="firing"))["alerts"]]


async def test_a_rule_over_the_last_40_runs_sees_40_runs(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=FLAKY)
    await _forty_runs(client, clock)
    assert await _firing(client) == ["Flaky"]
    await client.close()

    client = await start_with(rules=FLAKY)  # and after a restart, from the store
    assert await _firing(client) == ["Flaky"]


async def test_after_a_reload_jobs_keep_more_from_then_on(
    start: Callable[..., Awaitable[Client]], tmp_path: Path, clock: Clock
) -> None:
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    config = tmp_path / "batchgate.yaml"
    config.write_text("rules_files: [rules.yaml]\n")
    alerting = load_settings({"config": config}, {}).alerting
    client = await start(config_file=config, alerting=alerting)
    (tmp_path / "rules.yaml").write_text(FLAKY)
    await checked(await client.post("/-/reload"))
    await _forty_runs(client, clock)
    assert await _firing(client) == ["Flaky"]
