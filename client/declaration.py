"""A job's own schedule, as `Job(..., schedule=, timezone=, grace=, max_runtime=)` and
`batchgate run --schedule ...` declare it: checked here as far as the standard library can,
and sent as the `schedule` object of the run's `start`.

A push whose declaration the collector refuses is refused whole (the run's start with it),
so what can be caught here is caught at once, as a ValueError, before the job runs.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

_DURATION: Final = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_UNITS: Final = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_CRON_FIELD: Final = re.compile(r"[0-9A-Za-z*/,\-#]+")
_CRON_RANGES: Final = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES: Final = ("minute", "hour", "day of month", "month", "day of week")
MAX_DURATION: Final = 366 * 86400.0
"""The longest grace or max runtime the collector accepts."""


def duration_seconds(value: float | str, what: str, *, zero: bool = False) -> float:
    """Seconds in `value`: a number of seconds, or `30s`, `10m`, `2h`, `1h30m`, `1d`."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a duration such as '30m' or seconds, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())) and value.strip():
        seconds = sum(
            int(amount) * unit
            for amount, unit in zip(match.groups(), _UNITS, strict=True)
            if amount is not None
        )
    else:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{what} must be a duration such as '30m', '2h' or seconds, not {value!r}"
            ) from None
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero):
        raise ValueError(f"{what} must be {'at least 0' if zero else 'more than 0'}: {value!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"{what} must be at most 366 days: {value!r}")
    return seconds


def check_cron(expression: str) -> str:
    """A 5-field cron expression (`0 2 * * *`), its numbers within each field's range."""
    if not isinstance(expression, str):
        raise ValueError(f"schedule must be a cron expression such as '0 2 * * *': {expression!r}")
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"schedule {expression!r} must have 5 fields (m h dom mon dow)")
    for field, (low, high), name in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
        if not _CRON_FIELD.fullmatch(field):
            raise ValueError(f"schedule {expression!r}: bad {name} {field!r}")
        for number in re.findall(r"(?<![/#])\b\d+\b", field):
            if not low <= int(number) <= high:
                raise ValueError(f"schedule {expression!r}: {name} {number} is not in {low}-{high}")
    return " ".join(fields)


def check_timezone(name: str) -> str:
    """An IANA time zone name this machine knows (any name, where it knows none)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"timezone must be an IANA name such as 'Europe/Berlin': {name!r}")
    import zoneinfo  # here: it loads sysconfig, which a job that declares no zone need not

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A machine without a time zone database cannot tell: the collector will.
        if zoneinfo.available_timezones():
            raise ValueError(f"timezone: unknown time zone {name!r}") from None
    return name


def declaration(
    schedule: str | None,
    timezone: str | None,
    grace: float | str | None,
    max_runtime: float | str | None,
    finish_within: float | str | None = None,
) -> dict[str, Any] | None:
    """The `schedule` object a start carries, or None when nothing is declared; raises
    ValueError naming what is wrong."""
    if schedule is None and (timezone, grace, finish_within) != (None, None, None):
        raise ValueError("timezone, grace and finish_within go with a schedule")
    declared: dict[str, Any] = {}
    if schedule is not None:
        declared["cron"] = check_cron(schedule)
        if timezone is not None:
            declared["timezone"] = check_timezone(timezone)
        if grace is not None:
            declared["grace"] = duration_seconds(grace, "grace", zero=True)
        if finish_within is not None:
            declared["finish_within"] = duration_seconds(finish_within, "finish_within")
    if max_runtime is not None:
        declared["max_runtime"] = duration_seconds(max_runtime, "max_runtime")
    return declared or None
