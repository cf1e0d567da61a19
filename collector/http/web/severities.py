"""How loud the dashboard draws each alert severity. Pure.

A severity is a free word (`severity: page`, tiers of `low`, `medium`, `high`), so each gets
a rank from 0 (informational) to 2 (critical), the rank a colour: every severity has one,
and a severity that says more is never drawn calmer than one that says less. Words the
monitoring world uses agree on their order (Alertmanager's info/warning/critical,
PagerDuty's and Opsgenie's low/medium/high/critical, X.733's warning/minor/major/critical);
a word of a team's own is placed by the rules' `severity_tiers`, which list severities
from the calmest to the loudest: after the tier before it, or at the warning rank when no
rule orders it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Final

from batchgate.rules import Rule

CALM: Final = 0
WARNING: Final = 1
CRITICAL: Final = 2
RANKS: Final = (CALM, WARNING, CRITICAL)

KNOWN: Final[Mapping[str, int]] = {
    **dict.fromkeys(("none", "debug", "info", "informational", "notice", "low"), CALM),
    **dict.fromkeys(("warning", "warn", "medium", "moderate", "minor", "average"), WARNING),
    **dict.fromkeys(
        ("high", "major", "error", "severe", "critical", "page", "urgent", "fatal",
         "emergency", "alert", "disaster"),
        CRITICAL,
    ),
}  # fmt: skip
"""Ranks of the severities people commonly write, in lower case."""


def rank(severity: str, ordered: Mapping[str, int] | None = None) -> int:
    """The rank of `severity`: its own for a common word, else the rules' order (`ordered`,
    from `ranks_from_tiers`), else WARNING: an unknown severity is not taken for calm."""
    known = KNOWN.get(severity.strip().lower())
    if known is not None:
        return known
    if ordered is not None and severity in ordered:
        return ordered[severity]
    return WARNING


@functools.lru_cache(maxsize=16)
def ranks_from_tiers(tiers: tuple[tuple[str, ...], ...]) -> Mapping[str, int]:
    """Ranks of the words the rules use, each rule's severities listed calmest first (its
    `severity_tiers`; a fixed `severity` is one tier). A word of a team's own is one rank
    above the tier before it, the calmest when it opens a list of several, WARNING when
    alone; a word several rules order takes the loudest rank they give it."""
    ordered: dict[str, int] = {}
    for severities in tiers:
        previous: int | None = None
        for severity in severities:
            known = KNOWN.get(severity.strip().lower())
            if known is not None:
                current = known
            elif previous is None:
                current = CALM if len(severities) > 1 else WARNING
            else:
                current = min(CRITICAL, previous + 1)
            if known is None:
                ordered[severity] = max(ordered.get(severity, CALM), current)
            previous = current if previous is None else max(previous, current)
    return ordered


def tier_lists(rules: Iterable[Rule]) -> tuple[tuple[str, ...], ...]:
    """Each rule's severities in tier order: what `ranks_from_tiers` reads."""
    return tuple(tuple(tier.severity for tier in rule.tiers) for rule in rules)
