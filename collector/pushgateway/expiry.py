"""Expiry of stale groups: per job-name pattern, how long a group may go without a push.

The Pushgateway keeps groups forever; batchgate drops a group once its job's rule says it is
too old (`--push.expire-after` is a last rule matching every job).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """Groups whose job matches `job_pattern` (a shell glob) expire `max_age` seconds after
    their last push."""

    job_pattern: str
    max_age: float
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_age < 0:
            raise ValueError(f"max_age must not be negative, got {self.max_age}")
        object.__setattr__(self, "_regex", re.compile(fnmatch.translate(self.job_pattern)))

    def matches(self, job: str) -> bool:
        return self._regex.fullmatch(job) is not None


def matching_rule(rules: Sequence[ExpiryRule], job: str) -> ExpiryRule | None:
    """The first rule whose pattern matches `job`, or None (the group never expires)."""
    for rule in rules:
        if rule.matches(job):
            return rule
    return None
