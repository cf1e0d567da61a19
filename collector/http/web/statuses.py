"""What the dashboard says of a job beyond its derived status, with no rule needed: a
Pushgateway group's status of its own, and a run far beyond its job's usual duration. Pure.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from batchgate.collector.core.model import FAILED, GROUP_KINDS, RUNNING, SUCCEEDED, Job, Run
from batchgate.rules.kinds.runtime import p95

PUSHED: Final = "pushed"
PUSH_FAILED: Final = "push-failed"
STALE: Final = "stale"
GROUP_STATUSES: Final = (PUSHED, PUSH_FAILED, STALE)
"""Statuses only Pushgateway groups have (they also may be `late` or `unknown`)."""

LONG_FACTOR: Final = 2.0
"""A running run is long past its usual duration beyond this many times the p95..."""
USUAL_OVER: Final = 20
"""...of the durations of its job's last this many successful runs..."""
USUAL_MIN_RUNS: Final = 5
"""...when there are at least this many: the reckoning of a `duration` rule with
`above_p95_factor: 2` and its default `over_last` and `min_runs`."""


def group_status(job: Job, status: str, stale: bool) -> str:
    """A Pushgateway group's own status, from its derived `status`: `stale` while an `absent`
    rule fires for it (`stale`), `push-failed` while its last push was refused, `pushed`
    after a good push; else as derived (`late`, `unknown`). A batch job's is `status`."""
    if job.kind not in GROUP_KINDS:
        return status
    if stale:
        return STALE
    if status == FAILED:
        return PUSH_FAILED
    if status == SUCCEEDED:
        return PUSHED
    return status


def usual_duration(job: Job) -> float | None:
    """The p95 (nearest rank) of the durations of the job's last USUAL_OVER successful runs,
    or None with fewer than USUAL_MIN_RUNS of them."""
    durations: list[float] = []
    for summary in reversed(job.recent):
        if summary.status == SUCCEEDED and summary.duration is not None:
            durations.append(summary.duration)
            if len(durations) == USUAL_OVER:
                break
    return p95(durations) if len(durations) >= USUAL_MIN_RUNS else None


class LongRun(NamedTuple):
    """A running run long past its job's usual duration."""

    elapsed: float
    usual: float
    """The p95 of the job's recent successful runs."""

    @property
    def times(self) -> float:
        """How many times its usual duration it has run."""
        return self.elapsed / self.usual if self.usual > 0 else float("inf")


def long_run(run: Run, usual: float | None, now: float) -> LongRun | None:
    """`run`, still running, past LONG_FACTOR times its job's `usual` duration (from
    `usual_duration`); else None."""
    if usual is None or run.status != RUNNING:
        return None
    elapsed = now - run.started_at
    return LongRun(elapsed, usual) if elapsed > LONG_FACTOR * usual else None
