"""Groups expire per job pattern, from their last push, and say what was removed."""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import ExpiryRule, GroupRegistry, InconsistentPushError


def keys(registry: GroupRegistry) -> set[str]:
    return {dict(summary.key)["job"] for summary in registry.groups()}


def test_the_first_matching_rule_decides() -> None:
    registry = GroupRegistry()
    for job in ("nightly-backup", "nightly-report", "hourly"):
        registry.push("PUT", f"job/{job}", b"m 1\n", None, False, 1000.0)
    rules = [
        ExpiryRule("nightly-backup", 10_000),
        ExpiryRule("nightly-*", 100),
        ExpiryRule("*", 500),
    ]
    expired = registry.expire(1200.0, rules)
    assert [dict(summary.key)["job"] for summary in expired] == ["nightly-report"]
    assert keys(registry) == {"nightly-backup", "hourly"}


def test_groups_matching_no_rule_never_expire() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/kept", b"m 1\n", None, False, 0.0)
    assert registry.expire(1e9, [ExpiryRule("other", 1)]) == []
    assert keys(registry) == {"kept"}


def test_a_failed_push_counts_as_activity() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", b"m 1\n", None, False, 0.0)
    with pytest.raises(InconsistentPushError):
        registry.push("PUT", "job/a", b"m 1 5\n", None, False, 90.0)
    assert registry.expire(150.0, [ExpiryRule("*", 100)]) == []
    assert [dict(s.key)["job"] for s in registry.expire(200.0, [ExpiryRule("*", 100)])] == ["a"]


def test_expired_groups_leave_the_scrape() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", b"m 1\n", None, False, 0.0)
    registry.expire(1000.0, [ExpiryRule("*", 100)])
    assert registry.render_text() == ""


def test_a_negative_age_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="negative"):
        ExpiryRule("*", -1)
