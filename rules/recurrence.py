"""Maintenance windows: a silence that recurs (a cron expression, a duration, a time zone).

"Every Tuesday 02:00 to 03:00 Berlin time" is `{schedule: "0 2 * * 2", duration: 1h,
timezone: Europe/Berlin}`: each scheduled time opens a window that lasts `duration`. The
silence's `startsAt` and `endsAt` bound the whole series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSimError

from batchgate.rules.durations import format_duration, parse_duration
from batchgate.rules.kinds.schedule import CronTicks


@dataclass(frozen=True, slots=True)
class Recurrence:
    """When a recurring silence is in effect: `duration` from each time of `schedule`."""

    schedule: str
    duration: float
    timezone: str
    ticks: CronTicks = field(compare=False, repr=False)

    def covers(self, now: float) -> bool:
        """Whether a window is open at `now` (it opens at a scheduled time, inclusive, and
        closes `duration` later, exclusive)."""
        window = self.ticks.window(now)
        return window is not None and now < window[1] + self.duration

    def next_opening(self, now: float) -> float:
        """The first scheduled time after `now`."""
        return self.ticks.after(now)

    def to_dict(self) -> dict[str, str]:
        return {
            "schedule": self.schedule,
            "duration": format_duration(self.duration).replace(" ", ""),
            "timezone": self.timezone,
        }


def parse_recurrence(data: Any) -> tuple[Recurrence | None, list[tuple[str, str]]]:
    """A Recurrence from `{schedule, duration, timezone}` (JSON or YAML values), or the
    problems as (field under `recurrence.`, reason)."""
    if not isinstance(data, Mapping):
        return None, [("", "must be an object {schedule, duration, timezone}")]
    problems: list[tuple[str, str]] = [
        (str(key), "unknown field")
        for key in data
        if key not in ("schedule", "duration", "timezone")
    ]
    schedule, duration, zone = (
        data.get("schedule"),
        data.get("duration"),
        data.get("timezone", "UTC"),
    )
    seconds: float | None = None
    if not isinstance(duration, str):
        problems.append(("duration", "required: a duration such as 1h or 30m"))
    else:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            problems.append(("duration", str(exc)))
        else:
            if seconds <= 0:
                problems.append(("duration", "must be longer than 0s"))
    tz: ZoneInfo | None = None
    if not isinstance(zone, str):
        problems.append(("timezone", "must be an IANA time zone name"))
    else:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(("timezone", f"unknown time zone {zone!r}"))
    ticks: CronTicks | None = None
    if not isinstance(schedule, str) or len(schedule.split()) != 5:
        problems.append(("schedule", "required: a cron expression of 5 fields (m h dom mon dow)"))
    else:
        try:
            ticks = CronTicks(schedule, tz or ZoneInfo("UTC"))
        except CronSimError as exc:
            problems.append(("schedule", f"invalid cron expression {schedule!r}: {exc}"))
    if problems or ticks is None or seconds is None or tz is None:
        return None, problems
    return Recurrence(ticks.expression, seconds, str(zone), ticks), []
