"""The `off_schedule` kind: runs that start when none is scheduled, or more than one for one
scheduled time (a cron line copied to two hosts, a loop that restarts the job).

Each start is placed by the scheduled time within `grace` of it (its *slot*). A run that falls
in no slot is off schedule; a run that falls in a slot another run took first is an extra run.
The runs judged are the running ones and the job's last finished run, so the alert of a run
that ended stays until a later run finishes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Final

from batchgate.rules.durations import format_duration
from batchgate.rules.facts import GROUP_KINDS, RUNNING, JobFacts, RunFacts
from batchgate.rules.kinds.base import INFINITY, NO_CONDITIONS, Condition, Context
from batchgate.rules.kinds.schedule import CronTicks, read_schedule
from batchgate.rules.yaml_reader import Fields

DEFAULT_GRACE: Final = 60.0
_PLACED_STARTS: Final = 16_384


@dataclass(frozen=True, slots=True, eq=False)
class OffSchedule:
    """A run that started more than `grace` from every scheduled time of `schedule`, or the
    second (third, ...) run to start within `grace` of the same scheduled time. One alert per
    run; `value` is how far the start was from the nearest scheduled time (seconds), or the
    number of runs in the slot."""

    name: ClassVar[str] = "off_schedule"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = ("schedule", "timezone", "grace")

    ticks: CronTicks
    grace: float = DEFAULT_GRACE
    timezone: str = "UTC"
    _placed: dict[float, tuple[float | None, float]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Starts already placed (a run's start never changes, and a job is judged again at each
    of its events): a cron lookup costs ~100 µs, a new run pays it once."""

    @classmethod
    def parse(cls, fields: Fields) -> OffSchedule | None:
        reader = fields.reader
        schedule_node = fields.require("schedule")
        zone_node = fields.take("timezone")
        grace = fields.read("grace", reader.duration)
        read = None if schedule_node is None else read_schedule(reader, schedule_node, zone_node)
        if read is None or ("grace" in fields and grace is None):
            return None
        return cls(read[0], DEFAULT_GRACE if grace is None else grace, read[1])

    def slot_of(self, started: float) -> float | None:
        """The scheduled time within `grace` of a start (the latest, if several are), or None."""
        return self._place(started)[0]

    def _place(self, started: float) -> tuple[float | None, float]:
        """(the start's slot or None, the scheduled time nearest to it)."""
        placed = self._placed.get(started)
        if placed is not None:
            return placed
        tick = self.ticks.before(started + self.grace)
        if tick is not None and tick >= started - self.grace:
            placed = (tick, tick)
        else:
            placed = (None, self._nearest(started))
        if len(self._placed) >= _PLACED_STARTS:
            del self._placed[next(iter(self._placed))]  # the oldest placed
        self._placed[started] = placed
        return placed

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        if job.kind in GROUP_KINDS:
            return NO_CONDITIONS, INFINITY
        conditions = [
            condition for run in _judged(job) if (condition := self._judge(job, run)) is not None
        ]
        return conditions or NO_CONDITIONS, INFINITY

    def _judge(self, job: JobFacts, run: RunFacts) -> Condition | None:
        started = run.started_at
        slot, nearest = self._place(started)
        if slot is None:
            distance = abs(started - nearest)
            when = "before" if started < nearest else "after"
            detail = (
                f"started at {self._clock(started)}, {format_duration(distance)} {when} the "
                f"nearest scheduled time {self._clock(nearest)}"
                f" (grace {format_duration(self.grace)})"
            )
            return Condition(run.run_id, run, distance, started, detail=detail)
        # The runs started for the same scheduled time before this one: how many, and the
        # first (one pass over what the job remembers, with no list or sort: this is the
        # kind's cost in every pass over a job that changed).
        low, high, me = slot - self.grace, slot + self.grace, (started, run.run_id)
        earlier = 0
        first: tuple[float, str] | None = None
        for other_id, other_start in _starts(job):
            if low <= other_start <= high and other_id != run.run_id:
                other = (other_start, other_id)
                if other < me:
                    earlier += 1
                    if first is None or other < first:
                        first = other
        if first is None:
            return None
        detail = (
            f"run {earlier + 1} for the scheduled time {self._clock(slot)}"
            f" (started first: {first[1]})"
        )
        return Condition(run.run_id, run, float(earlier + 1), started, detail=detail)

    def _nearest(self, moment: float) -> float:
        before = self.ticks.before(moment)
        after = self.ticks.after(moment)
        if before is None:
            return after
        return before if moment - before <= after - moment else after

    def _clock(self, moment: float) -> str:
        return datetime.fromtimestamp(moment, self.ticks.zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _judged(job: JobFacts) -> Iterator[RunFacts]:
    """The running runs, and the last finished one unless it runs again."""
    for run in job.running.values():
        if run.status == RUNNING:
            yield run
    last = job.last_finished
    if last is not None and last.run_id not in job.running:
        yield last


def _starts(job: JobFacts) -> Iterator[tuple[str, float]]:
    """(run id, start) of every run the job remembers: running, and recently finished."""
    for run in job.running.values():
        yield run.run_id, run.started_at
    for summary in job.recent:
        yield summary.run_id, summary.started_at
