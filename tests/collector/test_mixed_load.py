"""A short run of bench/soak.py's mixed load (pushes, Pushgateway pushes, scrapes, queries,
live dashboards, rules active): no 5xx, and every acknowledged run is there afterwards.
The long run and its memory figures are in docs/reliability.md."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bench.soak import soak, summary
from tests.helpers import ServerProcess


def test_a_mixed_load_loses_nothing_and_never_errs(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process("--log-level", "warning")
    report = asyncio.run(soak(server, seconds=12, workers=8, dashboards=5))
    print(summary(report))
    assert report.server_errors == 0
    assert report.refused == {}
    assert len(report.finished) > 20
    assert report.lost == []
    assert report.live_events > 0
