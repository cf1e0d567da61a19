"""Bounded pushes: too large a body or too many series per group is a 413 that changes nothing."""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import GroupRegistry, PushTooLargeError


def test_a_body_over_the_limit_is_refused() -> None:
    registry = GroupRegistry(max_body_bytes=64)
    with pytest.raises(PushTooLargeError) as refused:
        registry.push("PUT", "job/a", b"m 1\n" * 20, None, False, 1.0)
    assert refused.value.status == 413
    assert len(registry) == 0


def test_a_group_may_not_hold_more_series_than_allowed() -> None:
    registry = GroupRegistry(max_series_per_group=3)
    registry.push("PUT", "job/a", b'm{k="1"} 1\nm{k="2"} 1\n', None, False, 1.0)
    with pytest.raises(PushTooLargeError, match="4 series, more than 3"):
        registry.push("POST", "job/a", b'n{k="1"} 1\nn{k="2"} 1\n', None, False, 2.0)
    summary = registry.get((("job", "a"),))
    assert summary is not None
    assert (summary.series, summary.failure_time) == (2, 0.0)


def test_a_put_counts_only_what_it_pushes() -> None:
    registry = GroupRegistry(max_series_per_group=3)
    registry.push("PUT", "job/a", b'm{k="1"} 1\nm{k="2"} 1\nm{k="3"} 1\n', None, False, 1.0)
    registry.push("PUT", "job/a", b'n{k="1"} 1\nn{k="2"} 1\n', None, False, 2.0)
