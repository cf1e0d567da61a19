"""Numbers, durations and times as pages write them (dashboard.js writes them the same)."""

from __future__ import annotations

import pytest

from batchgate.collector.http.web import formatting


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"), (0.25, "250 ms"), (4.26, "4.3 s"), (42, "42 s"), (192, "3 min 12 s"),
        (1500, "25 min"), (3900, "1 h 05 min"), (2 * 86400 + 3 * 3600, "2 d 3 h"),
    ],
)  # fmt: skip
def test_durations(seconds: float | None, text: str) -> None:
    assert formatting.duration(seconds) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [(0.5, "just now"), (12, "12 s ago"), (185, "3 min ago"), (7300, "2 h ago"),
     (3 * 86400, "3 d ago"), (-300, "in 5 min")],
)  # fmt: skip
def test_relative_times(delta: float, text: str) -> None:
    assert formatting.relative(1_000_000.0 - delta, 1_000_000.0) == text


def test_sizes_counts_and_ratios() -> None:
    assert formatting.size(512) == "512 B"
    assert formatting.size(3.5 * 2**20) == "3.5 MiB"
    assert formatting.number(1234) == "1,234"
    assert formatting.number(23_800) == "23.8k"
    assert formatting.number(0.03267) == "0.0327"
    assert formatting.percent(0.256) == "26%"
    assert formatting.percent(0.015) == "1.5%"
    assert formatting.clock_time(0) == "1970-01-01 00:00:00 UTC"
