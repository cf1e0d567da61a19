"""Schedules declared by the jobs themselves: what a job says of when it runs and how long it
may take (`Job("backup", schedule="0 2 * * *", max_runtime="2h")`), validated and kept.

Pure: the declaration comes from a push (`schedule` on a `start` event, or `/ping`'s query
parameters); the declared kinds (`rules.kinds.declared`) judge a job by it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from batchgate.rules.durations import format_duration, parse_duration

MAX_CRON_LENGTH: Final = 200
MAX_DECLARED_DURATION: Final = 366 * 86400.0
"""The longest grace or max runtime a job may declare (a year and a day)."""

FIELDS: Final = ("cron", "timezone", "grace", "max_runtime", "finish_within")
"""The parts of a declaration, as `POST /push` names them inside `schedule`."""


@dataclass(frozen=True, slots=True)
class Declaration:
    """A job's own schedule (a 5-field cron in `timezone`), the grace after each scheduled
    time before a run counts as missed, the longest a run may take, and how long after its
    scheduled time a run must have succeeded; any may be absent."""

    cron: str | None = None
    timezone: str = "UTC"
    grace: float = 0.0
    max_runtime: float | None = None
    declared_at: float = 0.0
    """When this declaration was first made (a repeat of it keeps the time): scheduled times
    before it are not judged."""
    finish_within: float | None = None

    def same_as(self, other: Declaration | None) -> bool:
        """Whether `other` declares the same (when each was made aside)."""
        return other is not None and (
            self.cron,
            self.timezone,
            self.grace,
            self.max_runtime,
            self.finish_within,
        ) == (other.cron, other.timezone, other.grace, other.max_runtime, other.finish_within)

    def as_json(self) -> dict[str, Any]:
        """The declaration as stored and as `GET /jobs/{job}` shows it."""
        return {
            "cron": self.cron,
            "timezone": self.timezone,
            "grace_seconds": self.grace,
            "max_runtime_seconds": self.max_runtime,
            "finish_within_seconds": self.finish_within,
            "declared_at": self.declared_at,
        }

    def describe(self) -> str:
        """For people: `0 2 * * * (Europe/Berlin), grace 30m, max runtime 2h`."""
        parts = []
        if self.cron is not None:
            parts.append(f"{self.cron} ({self.timezone})")
            if self.grace:
                parts.append(f"grace {format_duration(self.grace)}")
            if self.finish_within is not None:
                parts.append(f"finish within {format_duration(self.finish_within)}")
        if self.max_runtime is not None:
            parts.append(f"max runtime {format_duration(self.max_runtime)}")
        return ", ".join(parts)


def declaration_to_text(declaration: Declaration | None) -> str | None:
    """The stored form (JSON), None for no declaration."""
    if declaration is None:
        return None
    return json.dumps(declaration.as_json(), sort_keys=True, separators=(",", ":"))


def declaration_from_text(text: str | None) -> Declaration | None:
    """A stored declaration back (None for NULL, or for one this version cannot read)."""
    if not text:
        return None
    try:
        stored = json.loads(text)
        return Declaration(
            stored.get("cron"),
            str(stored.get("timezone") or "UTC"),
            float(stored.get("grace_seconds") or 0.0),
            _seconds_or_none(stored.get("max_runtime_seconds")),
            float(stored.get("declared_at") or 0.0),
            _seconds_or_none(stored.get("finish_within_seconds")),
        )
    except (ValueError, TypeError, AttributeError):
        return None


def _seconds_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def parse_declaration(
    values: Mapping[str, Any], names: Mapping[str, str], at: float
) -> tuple[Declaration | None, list[tuple[str, str]]]:
    """A declaration from raw `values` (keys of FIELDS; durations as `30m` or seconds), and
    the (field, reason) of every problem, each field named as `names` says (`schedule.cron`
    on /push, `schedule` on /ping). None with no problem: nothing was declared."""
    errors: list[tuple[str, str]] = []
    given = {key: value for key, value in values.items() if value is not None}
    if not given:
        return None, errors
    cron = given.get("cron")
    if cron is not None:
        cron = _checked_cron(cron, names["cron"], errors)
    zone = "UTC"
    if "timezone" in given:
        raw_zone = given["timezone"]
        if "cron" not in given:
            errors.append((names["timezone"], f"only used with {names['cron']}"))
        elif not isinstance(raw_zone, str) or not _is_zone(raw_zone):
            errors.append((names["timezone"], f"unknown time zone {raw_zone!r}"))
        else:
            zone = raw_zone
    grace = _duration(given.get("grace"), names["grace"], errors, zero=True)
    if "grace" in given and "cron" not in given:
        errors.append((names["grace"], f"only used with {names['cron']}"))
    max_runtime = _duration(given.get("max_runtime"), names["max_runtime"], errors, zero=False)
    within = _duration(given.get("finish_within"), names["finish_within"], errors, zero=False)
    if "finish_within" in given and "cron" not in given:
        errors.append((names["finish_within"], f"only used with {names['cron']}"))
    if errors:
        return None, errors
    return Declaration(cron, zone, grace or 0.0, max_runtime, at, within), errors


def _checked_cron(value: Any, field: str, errors: list[tuple[str, str]]) -> str | None:
    """The cron expression if valid, else None with its problem added."""
    if not isinstance(value, str) or not value.strip():
        errors.append((field, "must be a cron expression such as '0 2 * * *'"))
        return None
    if len(value) > MAX_CRON_LENGTH:
        errors.append((field, f"is longer than {MAX_CRON_LENGTH} characters"))
        return None
    expression = " ".join(value.split())
    if len(expression.split()) != 5:
        errors.append((field, f"{value!r} must have 5 fields (m h dom mon dow)"))
        return None
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    except CronSimError as error:
        errors.append((field, f"invalid cron expression {value!r}: {error}"))
        return None
    return expression


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _duration(value: Any, field: str, errors: list[tuple[str, str]], *, zero: bool) -> float | None:
    """A duration (`30m`, `1h30m`, or a number of seconds), or None with its problem added."""
    if value is None:
        return None
    seconds: float | None = None
    if type(value) in (int, float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds):
        errors.append((field, f"{value!r} is not a duration such as '30m', '2h' or seconds"))
        return None
    if seconds < 0 or (seconds == 0 and not zero):
        errors.append((field, f"{value!r} must be {'at least 0' if zero else 'more than 0'}"))
        return None
    if seconds > MAX_DECLARED_DURATION:
        errors.append((field, f"{value!r} is longer than {format_duration(MAX_DECLARED_DURATION)}"))
        return None
    return seconds
