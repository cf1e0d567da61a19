"""The `deadline` kind: a scheduled run must have *succeeded* by a time, not only started.

"The report must be done by 06:00 Berlin time": `finish_by: "06:00"` (a wall-clock time in the
rule's `timezone`), or `finish_within: 4h` of the scheduled time (elapsed time, so a DST change
in between moves the wall-clock deadline by an hour, as it moves the work's real time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import ClassVar, Final

from batchgate.rules.facts import GROUP_KINDS, SUCCEEDED, JobFacts
from batchgate.rules.kinds.base import (
    INFINITY,
    NO_CONDITIONS,
    Condition,
    Context,
    last_finished,
    run_facts,
)
from batchgate.rules.kinds.schedule import EARLY_START_TOLERANCE, CronTicks, read_schedule
from batchgate.rules.yaml_reader import Fields

_REMEMBERED: Final = 16_384
_CLOCK_TIME: Final = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True, slots=True, eq=False)
class Deadline:
    """The run scheduled at a tick of `schedule` has not succeeded by its deadline.

    A success counts for a scheduled time when its run started at or after it (up to a minute
    early). Per job: it fires at the first deadline missed, and resolves once a run started
    since that scheduled time succeeds. For a Pushgateway group a push stands for a success.
    """

    name: ClassVar[str] = "deadline"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("schedule", "timezone", "finish_within", "finish_by")

    ticks: CronTicks
    within: float | None
    by: time | None
    timezone: str = "UTC"
    _first_after: dict[float, float] = field(default_factory=dict, compare=False, repr=False)
    """The first scheduled time after a job's last success, by that success's start: asked at
    each evaluation of a job that stays late, answered by cron once (~100 µs)."""

    @classmethod
    def parse(cls, fields: Fields) -> Deadline | None:
        reader = fields.reader
        schedule_node = fields.require("schedule")
        zone_node = fields.take("timezone")
        within = fields.read("finish_within", reader.positive_duration)
        by_node = fields.take("finish_by")
        by: time | None = None
        if by_node is not None:
            text = reader.string(by_node, "finish_by")
            match = _CLOCK_TIME.fullmatch(text) if text is not None else None
            if text is not None and match is None:
                reader.error(by_node, f"finish_by: {text!r} is not a time of day (HH:MM, 24h)")
            elif match is not None:
                by = time(int(match[1]), int(match[2]))
        if ("finish_within" in fields) == (by_node is not None):
            reader.error(
                fields.node, "deadline: give exactly one of 'finish_within' or 'finish_by'"
            )
            return None
        read = None if schedule_node is None else read_schedule(reader, schedule_node, zone_node)
        if read is None or (within is None and by is None):
            return None
        return cls(read[0], within, by, read[1])

    def due(self, tick: float) -> float:
        """The deadline of the run scheduled at `tick`."""
        if self.within is not None:
            return tick + self.within
        return _next_clock_time(tick, self._by(), self.ticks.zone)

    def _cutoff(self, now: float) -> float:
        """The latest scheduled time whose deadline has passed is the latest tick at or
        before this (deadlines grow with their ticks)."""
        if self.within is not None:
            return now - self.within
        return _last_clock_time(now, self._by(), self.ticks.zone)

    def _after(self, moment: float) -> float:
        cached = self._first_after.get(moment)
        if cached is None:
            if len(self._first_after) >= _REMEMBERED:
                del self._first_after[next(iter(self._first_after))]
            cached = self._first_after[moment] = self.ticks.after(moment)
        return cached

    def _by(self) -> time:
        assert self.by is not None
        return self.by

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        window = self.ticks.window(self._cutoff(now))  # shared by every job of the rule
        if window is None:
            return NO_CONDITIONS, INFINITY
        previous, tick, following = window
        next_due = self.due(following)
        if tick < job.created_at:
            return NO_CONDITIONS, next_due  # the job was not known yet at that time
        early = min(EARLY_START_TOLERANCE, (tick - previous) / 2)
        started = _last_success_start(job)
        if started is not None and started >= tick - early:
            return NO_CONDITIONS, next_due
        # The first deadline missed: that of the first scheduled time after the last success's
        # start (or after the job was first seen).
        reference = started + early if started is not None else job.created_at - 1
        first = min(self._after(max(reference, job.created_at - 1)), tick)
        missed_at = self.due(first)
        last = last_finished(job)
        run = None if last is None else run_facts(job, last)
        return (Condition(None, run, now - missed_at, missed_at, missed_at),), INFINITY


def _last_success_start(job: JobFacts) -> float | None:
    """When the job's latest successful run started (for a group: its last push)."""
    if job.kind in GROUP_KINDS:
        return job.last_seen_at
    for summary in reversed(job.recent):
        if summary.status == SUCCEEDED:
            return summary.started_at
    return None


def _next_clock_time(moment: float, clock: time, zone: tzinfo) -> float:
    """The first `clock` time of day in `zone` at or after `moment`."""
    if not math.isfinite(moment):
        return moment
    day = datetime.fromtimestamp(moment, zone).date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), clock, zone).timestamp()
        if candidate >= moment:
            return candidate
    raise AssertionError("a time of day recurs within two days")


def _last_clock_time(moment: float, clock: time, zone: tzinfo) -> float:
    """The last `clock` time of day in `zone` at or before `moment`."""
    day = datetime.fromtimestamp(moment, zone).date()
    for offset in range(3):
        candidate = datetime.combine(day - timedelta(days=offset), clock, zone).timestamp()
        if candidate <= moment:
            return candidate
    raise AssertionError("a time of day recurs within two days")
