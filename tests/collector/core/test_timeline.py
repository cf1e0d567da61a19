"""A run's timeline stays bounded however long the run lasts, spread over its whole life."""

from __future__ import annotations

import itertools
from typing import Any

from batchgate.collector.core.state import StateSettings
from tests.helpers import Clock, get, push


async def test_it_keeps_a_bounded_evenly_spread_timeline(start: Any, clock: Clock) -> None:
    client = await start(runs=StateSettings(max_samples=20, sample_interval=1.0))
    await push(client, {"job": "long", "event": "start", "run_id": "r"})
    for done in range(1, 201):
        clock.advance(1)
        await push(client, {"job": "long", "event": "progress", "run_id": "r",
                            "progress": {"done": done}})  # fmt: skip
    clock.advance(1)
    await push(client, {"job": "long", "event": "success", "run_id": "r"})
    timeline = (await get(client, "/runs/r"))["timeline"]
    samples = [p for p in timeline if p["event"] == "progress"]
    assert 10 <= len(samples) <= 20
    assert timeline[0]["event"] == "start"
    assert timeline[-1]["event"] == "success"
    reported = [p["progress"]["done"] for p in samples]
    assert reported == sorted(reported)
    assert reported[0] <= 16, reported  # spread over the whole run...
    assert reported[-1] >= 180, reported
    gaps = {b - a for a, b in itertools.pairwise(reported)}  # ...evenly
    assert len(gaps) == 1, f"unevenly spread: {reported}"


async def test_it_samples_at_most_once_per_interval(start: Any, clock: Clock) -> None:
    client = await start(runs=StateSettings(sample_interval=10.0))
    await push(client, {"job": "fast", "event": "start", "run_id": "r"})
    for done in range(100):
        clock.advance(0.5)
        await push(client, {"job": "fast", "event": "progress", "run_id": "r",
                            "progress": {"done": done}})  # fmt: skip
    timeline = (await get(client, "/runs/r"))["timeline"]
    assert len([p for p in timeline if p["event"] == "progress"]) == 5
