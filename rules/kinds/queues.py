"""The queue kinds: `wait_time`, `backlog`, `stalled` and `retry_rate`.

They judge queues (the jobs of kind `queue`, `batchgate.rules.facts.QueueFacts`) and
nothing else, as the other kinds never judge a queue (the engine pairs them by `subject`).
Each holds once per queue. Over a window, a verdict can change with time alone, so those
are looked at again within a minute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, cast

from batchgate.rules.facts import QUEUE, JobFacts, QueueFacts
from batchgate.rules.kinds.base import INFINITY, NO_CONDITIONS, Condition, Context
from batchgate.rules.yaml_reader import Fields

MINUTE: Final = 60.0
"""How soon a windowed verdict is looked at again: queues count by the minute."""
MAX_WINDOW: Final = 86400.0
"""Queues keep a day of counts."""


def _window(fields: Fields, key: str, *, required: bool) -> float | None:
    reader = fields.reader
    node = fields.require(key) if required else fields.take(key)
    if node is None:
        return None
    window = reader.positive_duration(node, key)
    if window is not None and window > MAX_WINDOW:
        reader.error(node, f"{key}: at most 1d (queues keep a day of counts)")
        return None
    return window


def _rank(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values (an observed value)."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class WaitTime:
    """A run has waited longer than `above` (the longest waiting now); or, with `window`,
    the `percentile` of the waits of the runs finished within it is above `above`."""

    name: ClassVar[str] = "wait_time"
    per_run: ClassVar[bool] = False
    subject: ClassVar[str] = QUEUE
    keys: ClassVar[tuple[str, ...]] = ("above", "window", "percentile")

    above: float
    window: float | None = None
    percentile: float = 0.95

    @classmethod
    def parse(cls, fields: Fields) -> WaitTime | None:
        reader = fields.reader
        node = fields.require("above")
        above = None if node is None else reader.duration(node, "above")
        window = _window(fields, "window", required=False)
        share = fields.read("percentile", reader.ratio)
        if share is not None and "window" not in fields:
            reader.error(fields.node, "wait_time: 'percentile' needs a 'window'")
            return None
        if above is None or ("window" in fields and window is None):
            return None
        return cls(above, window, 0.95 if share is None else share)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        queue = cast(QueueFacts, job)
        if self.window is not None:
            waits = sorted(queue.waits_since(now - self.window))
            if waits and (value := _rank(waits, self.percentile)) > self.above:
                return (Condition(None, None, value, None),), now + MINUTE
            return NO_CONDITIONS, now + MINUTE
        since = queue.oldest_waiting_since()
        if since is None:
            return NO_CONDITIONS, INFINITY
        crossing = since + self.above
        if now > crossing:
            return (Condition(None, None, now - since, crossing, since),), INFINITY
        return NO_CONDITIONS, crossing


@dataclass(frozen=True, slots=True)
class Backlog:
    """More than `above` tasks wait in the queue (a broker's count while its snapshot is
    fresh, else the runs'), or the longest waiting run has waited longer than `oldest`
    (either, or both)."""

    name: ClassVar[str] = "backlog"
    per_run: ClassVar[bool] = False
    subject: ClassVar[str] = QUEUE
    keys: ClassVar[tuple[str, ...]] = ("above", "oldest")

    above: int | None
    oldest: float | None

    @classmethod
    def parse(cls, fields: Fields) -> Backlog | None:
        reader = fields.reader
        above = fields.read("above", lambda n, w: reader.integer(n, w, minimum=0, maximum=2**53))
        oldest = fields.read("oldest", reader.positive_duration)
        if "above" not in fields and "oldest" not in fields:
            reader.error(fields.node, "backlog: give 'above' (runs waiting), 'oldest', or both")
            return None
        if ("above" in fields and above is None) or ("oldest" in fields and oldest is None):
            return None
        return cls(above, oldest)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        queue = cast(QueueFacts, job)
        waiting, holds_until = queue.depth(now)
        if self.above is not None and waiting > self.above:
            detail = _waiting(waiting)
            return (Condition(None, None, float(waiting), None, detail=detail),), holds_until
        since = queue.oldest_waiting_since()
        if self.oldest is None or since is None:
            return NO_CONDITIONS, holds_until
        crossing = since + self.oldest
        if now > crossing:
            detail = f"the oldest of {_waiting(waiting)} waits since {now - since:.0f}s"
            condition = Condition(None, None, now - since, crossing, since, detail=detail)
            return (condition,), holds_until
        return NO_CONDITIONS, min(crossing, holds_until)


def _waiting(count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'} waiting"


@dataclass(frozen=True, slots=True)
class Stalled:
    """Runs wait in the queue and none has finished for `for_longer_than` (since the
    later of the last finish and the longest wait's start)."""

    name: ClassVar[str] = "stalled"
    per_run: ClassVar[bool] = False
    subject: ClassVar[str] = QUEUE
    keys: ClassVar[tuple[str, ...]] = ("no_finish_for",)

    no_finish_for: float

    @classmethod
    def parse(cls, fields: Fields) -> Stalled | None:
        reader = fields.reader
        node = fields.require("no_finish_for")
        limit = None if node is None else reader.positive_duration(node, "no_finish_for")
        return None if limit is None else cls(limit)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        queue = cast(QueueFacts, job)
        since = queue.oldest_waiting_since()
        if since is None:
            return NO_CONDITIONS, INFINITY
        finished = queue.last_finished_at
        quiet_since = since if finished is None else max(finished, since)
        crossing = quiet_since + self.no_finish_for
        if now > crossing:
            quiet = now - quiet_since
            detail = f"{_waiting(queue.waiting_count)}, none finished for {quiet:.0f}s"
            return (Condition(None, None, quiet, crossing, quiet_since, detail=detail),), INFINITY
        return NO_CONDITIONS, crossing


@dataclass(frozen=True, slots=True)
class RetryRate:
    """Attempts retried per run finished within `window` is above `above`, once at least
    `min_runs` runs finished in it."""

    name: ClassVar[str] = "retry_rate"
    per_run: ClassVar[bool] = False
    subject: ClassVar[str] = QUEUE
    keys: ClassVar[tuple[str, ...]] = ("above", "window", "min_runs")

    above: float
    window: float
    min_runs: int = 5

    @classmethod
    def parse(cls, fields: Fields) -> RetryRate | None:
        reader = fields.reader
        node = fields.require("above")
        above = None if node is None else reader.number(node, "above", minimum=0)
        window = _window(fields, "window", required=True)
        min_runs = fields.read(
            "min_runs", lambda n, w: reader.integer(n, w, minimum=1, maximum=100_000)
        )
        if above is None or window is None:
            return None
        return cls(above, window, min_runs or 5)

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        queue = cast(QueueFacts, job)
        finished, retried = queue.finished_and_retried_since(now - self.window)
        if finished >= self.min_runs and retried / finished > self.above:
            detail = f"{retried} retries for {finished} runs finished"
            return (Condition(None, None, retried / finished, None, detail=detail),), now + MINUTE
        return NO_CONDITIONS, now + MINUTE
