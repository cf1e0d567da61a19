"""web/severities.py: every severity word gets a rank (its colour), common words in the order
the monitoring world agrees on, a team's own by its rules' tiers, high never below warning."""

from __future__ import annotations

from batchgate.collector.http.web.severities import CALM, CRITICAL, WARNING, rank, ranks_from_tiers


def test_common_words_rank_as_people_read_them() -> None:
    assert [rank(s) for s in ("info", "low", "notice")] == [CALM] * 3
    assert [rank(s) for s in ("warning", "medium", "minor")] == [WARNING] * 3
    assert [rank(s) for s in ("high", "major", "critical", "page", "Critical")] == [CRITICAL] * 5
    assert rank("high") >= rank("warning")


def test_a_teams_own_words_follow_their_tiers() -> None:
    ordered = ranks_from_tiers((("sev3", "sev2", "sev1"), ("low", "p2", "critical")))
    assert [rank(s, ordered) for s in ("sev3", "sev2", "sev1")] == [CALM, WARNING, CRITICAL]
    assert rank("p2", ordered) == WARNING


def test_a_word_no_rule_orders_is_not_taken_for_calm() -> None:
    assert rank("sev1") == WARNING
    assert rank("sev1", ranks_from_tiers((("sev1",),))) == WARNING  # a fixed severity


def test_a_word_several_rules_order_takes_the_loudest_rank() -> None:
    ordered = ranks_from_tiers((("p3", "p1"), ("warning", "p3")))
    assert rank("p3", ordered) == CRITICAL
