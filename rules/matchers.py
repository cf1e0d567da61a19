"""Patterns for job names and label values: a glob, a `re:` regular expression, or a list.

One syntax everywhere (rule `match:` and receiver `match:`):

- `etl_*` is a glob (`*` any run of characters, `?` one character, `[abc]` a set);
  a value without those characters is an exact match.
- `re:etl_(daily|weekly)` is a Python regular expression, anchored at both ends as in
  Prometheus and Alertmanager.
- a list of patterns matches when any of them does.

A label that is absent reads as the empty string, as in Alertmanager: `env: ""` matches jobs
without an `env` label, and `env: "*"` matches every job.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

REGEX_PREFIX: Final = "re:"
_GLOB_CHARACTERS: Final = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: `exact` when it has no wildcard, else an anchored regex."""

    source: tuple[str, ...]
    exact: frozenset[str]
    regex: re.Pattern[str] | None

    def matches(self, value: str) -> bool:
        if value in self.exact:
            return True
        return self.regex is not None and self.regex.fullmatch(value) is not None


def compile_pattern(patterns: Iterable[str]) -> Pattern:
    """Compile one or several patterns into one; raises ValueError naming the bad one."""
    source = tuple(patterns)
    exact: set[str] = set()
    regexes: list[str] = []
    for pattern in source:
        if pattern.startswith(REGEX_PREFIX):
            expression = pattern[len(REGEX_PREFIX) :]
            try:
                re.compile(expression)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {expression!r}: {exc}") from None
            regexes.append(f"(?:{expression})")
        elif _GLOB_CHARACTERS.isdisjoint(pattern):
            exact.add(pattern)
        else:
            # fnmatch.translate gives `(?s:...)\Z`; fullmatch anchors the start as well.
            regexes.append(fnmatch.translate(pattern))
    regex = re.compile("|".join(regexes)) if regexes else None
    return Pattern(source, frozenset(exact), regex)


@dataclass(frozen=True, slots=True)
class LabelMatchers:
    """Every label named must match its pattern (an absent label reads as "")."""

    matchers: tuple[tuple[str, Pattern], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(pattern.matches(labels.get(name, "")) for name, pattern in self.matchers)


@dataclass(frozen=True, slots=True)
class JobMatcher:
    """A rule's `match:`: the job name pattern, label matchers and job kinds; all must hold."""

    job: Pattern | None = None
    labels: LabelMatchers = LabelMatchers()
    job_kinds: frozenset[str] | None = None

    def matches(self, name: str, labels: Mapping[str, str], kind: str) -> bool:
        """Whether a job with this name, these grouping labels and this kind is matched."""
        if self.job_kinds is not None and kind not in self.job_kinds:
            return False
        if self.job is not None and not self.job.matches(name):
            return False
        return not self.labels.matchers or self.labels.matches(labels)


MATCH_ALL: Final = JobMatcher()
MATCH_EVERY_ALERT: Final = LabelMatchers()
