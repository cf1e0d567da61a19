"""Kinds about time passing without news: missed (a cron schedule or an interval) and absent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import ClassVar, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cronsim import CronSim, CronSimError

from batchgate.rules.facts import GROUP_KINDS, JobFacts, RunFacts, RunSummaryFacts, unheard_after
from batchgate.rules.kinds.base import (
    INFINITY,
    NO_CONDITIONS,
    Condition,
    Context,
    last_finished,
    run_facts,
)
from batchgate.rules.yaml_reader import Fields, Reader

EARLY_START_TOLERANCE: Final = 60.0
"""A run that starts up to this long before its scheduled time counts for it (clock skew)."""


class CronTicks:
    """The ticks of a cron expression in a time zone, with the window around the last lookup
    cached: every job under one rule shares it, so a pass costs one cron computation per rule."""

    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.expression = expression
        self.zone = zone
        CronSim(expression, datetime(2000, 1, 1, tzinfo=zone))  # validates: CronSimError
        self._window: tuple[float, float, float] | None = None

    def before(self, moment: float) -> float | None:
        """The latest tick at or before `moment` (None if there was none in 50 years)."""
        start = datetime.fromtimestamp(math.floor(moment) + 1, self.zone)
        try:
            return next(CronSim(self.expression, start, reverse=True)).timestamp()
        except StopIteration:
            return None

    def after(self, moment: float) -> float:
        """The first tick strictly after `moment` (infinity if there is none in 50 years)."""
        start = datetime.fromtimestamp(math.floor(moment), self.zone)
        try:
            return next(CronSim(self.expression, start)).timestamp()
        except StopIteration:
            return INFINITY

    def window(self, moment: float) -> tuple[float, float, float] | None:
        """(previous tick, latest tick <= moment, next tick), cached while moment stays inside."""
        cached = self._window
        if cached is not None and cached[1] <= moment < cached[2]:
            return cached
        tick = self.before(moment)
        if tick is None:
            return None
        previous = self.before(tick - 1)
        window = (previous if previous is not None else -INFINITY, tick, self.after(moment))
        self._window = window
        return window


def read_zone(reader: Reader, zone_node: yaml.Node | None) -> tuple[ZoneInfo, str] | None:
    """The `timezone:` key (UTC when absent), with its name; None with an error if unknown."""
    if zone_node is None:
        return ZoneInfo("UTC"), "UTC"
    name = reader.string(zone_node, "timezone")
    if name is None:
        return None
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        reader.error(zone_node, f"timezone: unknown time zone {name!r}")
        return None


def read_schedule(
    reader: Reader, schedule_node: yaml.Node, zone_node: yaml.Node | None
) -> tuple[CronTicks, str] | None:
    """A `schedule:` (5-field cron) in its `timezone:`; None once every error is reported."""
    zone = read_zone(reader, zone_node)
    expression = reader.string(schedule_node, "schedule")
    if expression is None:
        return None
    if len(expression.split()) != 5:
        reader.error(
            schedule_node, f"schedule: {expression!r} must have 5 fields (m h dom mon dow)"
        )
        return None
    try:
        ticks = CronTicks(expression, zone[0] if zone is not None else ZoneInfo("UTC"))
    except CronSimError as exc:
        reader.error(schedule_node, f"schedule: invalid cron expression {expression!r}: {exc}")
        return None
    return None if zone is None else (ticks, zone[1])


@dataclass(frozen=True, slots=True, eq=False)
class Missed:
    """The run that should have started did not.

    With `schedule` (cron, in `timezone`, default UTC): missed once `grace` has passed after a
    scheduled time with no run started since (a run may start up to a minute early). With
    `interval`: no successful run for `interval` (+ `grace`). For a Pushgateway group a push
    stands for a start (schedule) or a success (interval).
    """

    name: ClassVar[str] = "missed"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("schedule", "timezone", "grace", "interval")

    ticks: CronTicks | None
    interval: float | None
    grace: float = 0.0
    timezone: str = field(default="UTC")

    @classmethod
    def parse(cls, fields: Fields) -> Missed | None:
        reader = fields.reader
        schedule_node = fields.take("schedule")
        interval = fields.read("interval", reader.positive_duration)
        grace = fields.read("grace", reader.duration)
        zone_node = fields.take("timezone")
        if (schedule_node is not None) == ("interval" in fields):
            reader.error(fields.node, "missed: give exactly one of 'schedule' or 'interval'")
            return None
        if schedule_node is None:
            if zone_node is not None:
                reader.error(zone_node, "timezone: only used with 'schedule'")
                return None
            if "grace" in fields and grace is None:
                return None
            return None if interval is None else cls(None, interval, grace or 0.0)
        read = read_schedule(fields.reader, schedule_node, zone_node)
        if read is None or ("grace" in fields and grace is None):
            return None
        ticks, zone_name = read
        return cls(ticks, None, grace or 0.0, zone_name)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        pushed = job.kind in GROUP_KINDS
        if self.ticks is None:
            assert self.interval is not None
            base, next_due = self._interval_due(job, context)
            due = next_due + self.grace
            if now < due:
                return NO_CONDITIONS, due
            condition = Condition(None, _last_run(job), now - base, due, base + self.interval)
            return (condition,), INFINITY
        window = self.ticks.window(now - self.grace)
        if window is None:
            return NO_CONDITIONS, INFINITY
        previous, tick, following = window
        deadline = following + self.grace
        if tick < job.created_at:
            return NO_CONDITIONS, deadline  # the job was not known yet at that time
        early = min(EARLY_START_TOLERANCE, (tick - previous) / 2)
        started = job.last_seen_at if pushed else job.last_start_at
        if started is not None and started >= tick - early:
            return NO_CONDITIONS, deadline
        # The first scheduled time missed: the first tick after the last start (or creation).
        reference = started + early if started is not None else job.created_at - 1
        first_missed = self.ticks.after(max(reference, job.created_at - 1))
        first_missed = min(first_missed, tick)
        condition = Condition(
            None, _last_run(job), now - first_missed, first_missed + self.grace, first_missed
        )
        return (condition,), INFINITY

    def next_due(self, job: JobFacts, now: float, context: Context) -> float:
        """When the job's next run is due to start: the next scheduled time after `now`;
        with `interval`, an interval after its last success (for a group, its last push).
        The rule fires `grace` later if none has."""
        if self.ticks is not None:
            return self.ticks.after(now)
        return self._interval_due(job, context)[1]

    def _interval_due(self, job: JobFacts, context: Context) -> tuple[float, float]:
        """With `interval`: the last success (for a group, its last push; else when the
        job was first seen), and when the next is due, the server's downtime left out."""
        assert self.interval is not None
        evidence = job.last_seen_at if job.kind in GROUP_KINDS else job.last_success_at
        base = evidence if evidence is not None else job.created_at
        return base, base + unheard_after(context.deaf, base) + self.interval

    def late_from(self, job: JobFacts, condition: Condition, context: Context) -> float:
        """While this rule's `condition` holds, when the job is late from unless a run starts
        (for a group: a push comes) before: the scheduled time it missed; with `interval`,
        an interval and the grace after its last start, for a run that started and failed
        is no late run."""
        if self.ticks is not None:
            assert condition.since is not None
            return condition.since
        assert self.interval is not None
        started = job.last_seen_at if job.kind in GROUP_KINDS else job.last_start_at
        base = max(started or job.created_at, job.last_success_at or job.created_at)
        return base + unheard_after(context.deaf, base) + self.interval + self.grace


@dataclass(frozen=True, slots=True)
class Absent:
    """A job or Pushgateway group not heard from (no event, no push) for `absent_for`."""

    name: ClassVar[str] = "absent"
    per_run: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("absent_for",)

    absent_for: float

    @classmethod
    def parse(cls, fields: Fields) -> Absent | None:
        node = fields.require("absent_for")
        limit = None if node is None else fields.reader.positive_duration(node, "absent_for")
        return None if limit is None else cls(limit)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        base = job.last_seen_at if job.last_seen_at is not None else job.created_at
        due = base + unheard_after(context.deaf, base) + self.absent_for
        if now < due:
            return NO_CONDITIONS, due
        return (Condition(None, _last_run(job), now - base, due, base),), INFINITY


def _last_run(job: JobFacts) -> RunFacts | RunSummaryFacts | None:
    """The run shown to templates: the job's last finished run."""
    last = last_finished(job)
    return None if last is None else run_facts(job, last)
