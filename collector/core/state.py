"""The live state of every job: applies validated events, marks silent runs lost.

Pure and synchronous. Each applied event returns a `Change` saying what moved, which
the push handler hands to the writer (to make it durable) and to the live event stream.
Runs that are not in memory (finished and no longer a job's last run) are looked up in
the store by the caller before applying, and passed in with `remember_runs`.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from batchgate.collector.core.changes import ChangeLog
from batchgate.collector.core.events import MAX_FUTURE_SKEW, FieldError
from batchgate.collector.core.model import (
    ATTEMPT_MESSAGE_LIMIT,
    BATCH,
    FINISHING_EVENTS,
    LOST,
    MAX_ATTEMPTS_KEPT,
    QUEUED,
    RETRYING,
    RUNNING,
    WAITING_STATUSES,
    Attempt,
    Event,
    Job,
    JobKey,
    Run,
)
from batchgate.collector.core.queues import QueueBook
from batchgate.collector.core.records import Thinning


@dataclass(frozen=True, slots=True)
class StateSettings:
    lost_after: float = 900.0
    """Default seconds of silence after which a running run is lost."""
    stuck_after: float = 900.0
    """Seconds without progress after which a running job reads as stuck."""
    recent_runs: int = 32
    """Finished runs each job remembers in memory (sparklines, rules)."""
    sample_interval: float = 1.0
    """At most one timeline sample per run per this many seconds."""
    max_samples: int = 500
    """Timeline samples kept per run; beyond it the timeline is thinned by half."""
    seen_window: float = 3600.0
    """How long event ids stay in memory; older ones are checked against the store."""
    seen_capacity: int = 500_000
    run_cache: int = 10_000
    """Finished runs kept in memory after they stop being a job's last run."""


class Sample(NamedTuple):
    """A timeline point of a run. `seq` is None for lifecycle points, which are never thinned."""

    run_id: str
    seq: int | None
    event: Event


class Change(NamedTuple):
    """What applying one event did."""

    kind: str
    """queued, started (also a queued or retrying run's next attempt), progress, moved
    (progress that names another queue), retrying, finished, revived, or ignored (a late
    event for a finished run)."""
    job: Job
    run: Run
    job_changed: bool
    sample: Sample | None = None
    thinning: Thinning | None = None


class State:
    """Every job, every running run, each job's last run, and the recent event ids."""

    def __init__(self, settings: StateSettings, next_job_id: int = 1) -> None:
        self.settings = settings
        self.jobs: dict[JobKey, Job] = {}
        self.runs: dict[str, Run] = {}
        """Running runs and each job's last run, by run id."""
        self._finished: OrderedDict[str, Run] = OrderedDict()
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()
        """event_id -> (run_id, received at), oldest first."""
        self.seen_since = 0.0
        """Every event id received since this time is in memory."""
        self.deaf = (0.0, 0.0)
        """When this server could not hear its jobs: from the last event the restored state
        had heard to the server's start (`batchgate.rules.facts.unheard_after`)."""
        self.next_job_id = next_job_id
        self._sorted_keys: list[JobKey] | None = None
        self.queues = QueueBook()
        """The queues the runs name, kept as their runs change."""
        self.changes: ChangeLog[JobKey, Job] = ChangeLog()
        """Jobs changed or deleted since the rules last looked (while they watch)."""

    # -- lookups -------------------------------------------------------------------------

    def find_run(self, run_id: str) -> Run | None:
        return self.runs.get(run_id) or self._finished.get(run_id)

    def sorted_keys(self) -> list[JobKey]:
        """Every job key in order; cached until a job is added or removed."""
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.jobs)
        return self._sorted_keys

    def jobs_named(self, name: str) -> list[Job]:
        return sorted((job for job in self.jobs.values() if job.name == name), key=_job_order)

    def run_ids_to_fetch(self, events: Iterable[Event]) -> set[str]:
        """Run ids the events name that are not in memory: the caller fetches them first."""
        return {
            e.run_id for e in events if e.run_id is not None and self.find_run(e.run_id) is None
        }

    def event_ids_to_check(self, events: Iterable[Event]) -> set[str]:
        """Event ids the store must be asked about: too old for the in-memory window, and of
        events that name no run (see `needs_stored_id`)."""
        horizon = self.seen_since + MAX_FUTURE_SKEW
        return {
            e.event_id
            for e in events
            if e.event_id is not None
            and needs_stored_id(e)
            and e.at < horizon
            and e.event_id not in self._seen
        }

    def forget_runs(self, run_ids: Iterable[str]) -> None:
        """Drop finished runs the store no longer holds (retention deleted them)."""
        for run_id in run_ids:
            self._finished.pop(run_id, None)

    def reckon_downtime(self, started: float, alive_at: float = 0.0) -> None:
        """Set `deaf` for a server restored at `started`: from the last time the previous
        server is known to have been listening (`alive_at`, its last commit) or the last
        event the restored state had heard (a job's, a group's or a run's), whichever is
        later, to `started`, for every run."""
        running = [run for job in self.jobs.values() for run in job.running.values()]
        heard = [job.last_seen_at or 0.0 for job in self.jobs.values()]
        heard += [run.last_event_at for run in running]
        if alive_at:  # 0: no server has used this database (a new one, or schema 6's)
            heard.append(alive_at)
        self.deaf = (min(max(heard, default=started), started), started)
        for run in running:
            run.deaf = self.deaf

    def remember_runs(self, runs: Iterable[Run]) -> None:
        for run in runs:
            if run.run_id not in self.runs:
                self._cache_finished(run)

    def remember_event_ids(self, seen: Iterable[tuple[str, str, float]]) -> None:
        """Record event ids already applied (event_id, run_id, received at), oldest first."""
        for event_id, run_id, received_at in seen:
            self._seen[event_id] = (run_id, received_at)

    def conflicts(self, events: list[Event]) -> list[FieldError]:
        """Events contradicting stored runs: another job's run_id, or restarting a finished run."""
        owners: dict[str, JobKey] = {}
        errors = []
        for index, event in enumerate(events):
            if event.run_id is None or self.duplicate_of(event) is not None:
                continue
            run = self.find_run(event.run_id)
            owner = owners.get(event.run_id) or (run.job if run else None)
            if owner is not None and owner != event.job:
                errors.append(
                    FieldError(index, "run_id", f"run {event.run_id} belongs to job {owner}")
                )
            elif event.type == "start" and run is not None and run.status not in _STARTABLE:
                errors.append(
                    FieldError(
                        index,
                        "run_id",
                        f"run {event.run_id} already finished ({run.status}); "
                        "start a new run with a new run_id",
                    )
                )
            owners.setdefault(event.run_id, event.job)
        return errors

    # -- applying events -----------------------------------------------------------------

    def duplicate_of(self, event: Event) -> str | None:
        """The run id an already applied event went to, if this event repeats its event_id."""
        if event.event_id is None:
            return None
        seen = self._seen.get(event.event_id)
        return seen[0] if seen is not None else None

    def apply(self, event: Event, now: float) -> Change:
        """Apply one validated event that is not a duplicate and has no `conflicts`."""
        job = self.jobs.get(event.job)
        job_created = job is None
        if job is None:
            job = self._create_job(event.job, event.at)
        elif job.kind != BATCH:
            # A Pushgateway group's job now reports runs: from here on its runs decide
            # its status and times (a push was never a success), its group is shown beside.
            job.kind = BATCH
            job.last_success_at = job.last_failure_at = None
        run = self._resolve_run(job, event)
        if run is None:
            change = self._new_run(job, event)
        else:
            queue = run.queue
            change = self._update_run(job, run, event)
            if change.kind == "progress" and run.queue != queue:
                # Written whole (a progress write leaves the indexed queue column alone),
                # and moved in the queue book.
                change = change._replace(kind="moved")
        if job_created and not change.job_changed:
            change = change._replace(job_changed=True)
        declared = event.declaration
        if (
            declared is not None
            and change.kind != "ignored"
            and not declared.same_as(job.declaration)
        ):
            job.declaration = declared  # the latest declaration wins
            change = change._replace(job_changed=True)
        if change.kind != "ignored":
            self.touch(job)
            job.last_seen_at = max(job.last_seen_at or event.at, event.at)
            if change.run.queue is not None:
                self.queues.follow(change.run, change.kind, event.at)
        if event.event_id is not None:
            self._remember_seen(event.event_id, change.run.run_id, now)
        return change

    def _resolve_run(self, job: Job, event: Event) -> Run | None:
        if event.run_id is not None:
            return self.find_run(event.run_id)
        if event.type in _OPENING_EVENTS:
            return None
        if job.running:
            return max(job.running.values(), key=lambda run: run.started_at)
        # A cron job that went quiet and was marked lost may still report its end.
        if job.last_run is not None and job.last_run.status == LOST:
            return job.last_run
        return None

    def _new_run(self, job: Job, event: Event) -> Change:
        if event.type in _WAITING_EVENTS:
            return self._new_waiting_run(job, event)
        final = FINISHING_EVENTS.get(event.type)
        started_at = event.at - (event.duration or 0.0) if final else event.at
        run = Run(
            run_id=event.run_id or new_run_id(),
            job=job.key,
            status=RUNNING,
            started_at=started_at,
            last_event_at=event.at,
            last_progress_at=started_at,
            deaf=self.deaf,  # a start the client kept while the server was down is older
        )
        _merge_event(run, event)
        run.untimed = final is not None and event.duration is None
        if event.attempt is not None and (final is None or event.duration is not None):
            # An attempt, begun here or reported whole by its end (`_update_waiting`).
            run.attempts.append(Attempt(event.attempt, started_at, worker=event.worker))
        job.last_start_at = max(job.last_start_at or started_at, started_at)
        if final is None:
            job.running[run.run_id] = run
        else:
            self._finish(job, run, final, event.at)
        self._place(job, run)
        kind = "started" if final is None else "finished"
        return Change(kind, job, run, True, Sample(run.run_id, None, event))

    def _new_waiting_run(self, job: Job, event: Event) -> Change:
        """A run first heard of as queued, or as retrying (its first attempt unreported)."""
        run = Run(
            run_id=event.run_id or new_run_id(),
            job=job.key,
            status=QUEUED,
            started_at=event.at,
            last_event_at=event.at,
            last_progress_at=event.at,
            deaf=self.deaf,
        )
        _merge_event(run, event)
        job.waiting[run.run_id] = run
        if event.type == "queued":
            run.queued_at = event.at
            kind = "queued"
        else:
            run.status = RETRYING
            run.attempts.append(Attempt(event.attempt or 1, event.at, worker=event.worker))
            _end_attempt(run, "retry", event)
            job.retries += 1
            kind = "retrying"
        self._place(job, run)
        return Change(kind, job, run, True, Sample(run.run_id, None, event))

    def _update_waiting(self, job: Job, run: Run, event: Event) -> Change:
        """An event for a queued or retrying run: its next attempt starts, or it ends
        without one (cancelled in its queue), or it says more of where it waits."""
        final = FINISHING_EVENTS.get(event.type)
        if event.type == "start":
            self._begin_attempt(job, run, event, event.at)
            return Change("started", job, run, True, Sample(run.run_id, None, event))
        if final is not None:
            if event.duration is not None:
                # An attempt reported whole when it ended (a short task's start and end
                # sent as one event): it began `duration_seconds` before.
                self._begin_attempt(job, run, event, event.at - event.duration)
            else:
                _merge_event(run, event)
            self._finish(job, run, final, event.at)
            self._place(job, run)
            return Change("finished", job, run, True, Sample(run.run_id, None, event))
        if event.type == "queued" and event.at >= run.last_event_at:
            _merge_event(run, event)  # queued again (a retry's countdown): where it waits
            return Change("progress", job, run, False)
        return Change("ignored", job, run, job_changed=False)

    def _begin_attempt(self, job: Job, run: Run, event: Event, at: float) -> None:
        """The next attempt of a waiting run begins at `at`."""
        if not run.attempts and run.queued_at is not None:
            job.record_wait(max(0.0, at - run.queued_at))
        number = event.attempt or (run.attempts[-1].number + 1 if run.attempts else 1)
        run.attempts.append(Attempt(number, at, worker=event.worker))
        del run.attempts[:-MAX_ATTEMPTS_KEPT]
        run.status = RUNNING
        run.last_progress_at = max(run.last_progress_at, at)  # stuck: per attempt
        run.worker = event.worker  # the attempt's, not the last one's
        _merge_event(run, event)
        run.attempt = number
        job.waiting.pop(run.run_id, None)
        job.running[run.run_id] = run
        job.last_start_at = max(job.last_start_at or at, at)

    def _late_queued(self, job: Job, run: Run, event: Event) -> Change:
        """The producer's `queued` arriving after the worker's `start` (two processes race):
        the run waited from then, if it is not known to have been queued already."""
        began = run.began_at
        if run.queued_at is not None or began is None or event.at > began:
            return Change("ignored", job, run, job_changed=False)
        run.queued_at = event.at
        if not run.attempts:
            run.attempts.append(Attempt(run.attempt or 1, began, worker=run.worker))
            run.attempt = run.attempts[-1].number
        if event.queue is not None:
            run.queue = event.queue
        if event.max_attempts is not None:
            run.max_attempts = event.max_attempts
        job.record_wait(began - event.at)
        return Change("progress", job, run, True)

    def _update_run(self, job: Job, run: Run, event: Event) -> Change:
        if run.status in WAITING_STATUSES:
            return self._update_waiting(job, run, event)
        if run.status not in (RUNNING, LOST):
            return Change("ignored", job, run, job_changed=False)
        if event.type == "queued":
            return self._late_queued(job, run, event)
        if event.type == "start" and run.status == RUNNING:
            # The same start again (a client retrying without an event id): applied once.
            return Change("ignored", job, run, job_changed=False)
        final = FINISHING_EVENTS.get(event.type)
        if final is None and event.at < run.last_event_at:
            # Older than what the run already reported (out of order, or replayed): the
            # newer values stand. This is also what makes a replayed event harmless.
            return Change("ignored", job, run, job_changed=False)
        revived = run.status == LOST
        if revived:
            run.status = RUNNING
            run.finished_at = None
            job.running[run.run_id] = run
            self._place(job, run)
        _merge_event(run, event)
        if event.type == "retry":
            if not run.attempts:
                run.attempts.append(Attempt(run.attempt or 1, run.started_at, worker=run.worker))
            _end_attempt(run, "retry", event)
            run.status = RETRYING
            job.running.pop(run.run_id, None)
            job.waiting[run.run_id] = run
            job.retries += 1
            return Change("retrying", job, run, True, Sample(run.run_id, None, event))
        if final is not None:
            self._finish(job, run, final, event.at)
            self._place(job, run)
            return Change("finished", job, run, True, Sample(run.run_id, None, event))
        sample, thinning = self._sample_progress(run, event)
        kind = "revived" if revived else "progress"
        return Change(kind, job, run, revived, sample, thinning)

    def _finish(self, job: Job, run: Run, status: str, at: float) -> None:
        if run.attempts and run.attempts[-1].ended_at is None:
            run.attempts[-1] = run.attempts[-1]._replace(ended_at=at, outcome=status)
        run.status = status
        run.finished_at = max(at, run.started_at)
        job.running.pop(run.run_id, None)
        if job.waiting:
            job.waiting.pop(run.run_id, None)
        self._record_finish(job, run)

    def _record_finish(self, job: Job, run: Run) -> None:
        """Count the run into its job; the run it replaces as the job's last finished one
        leaves the index of runs in memory for the bounded cache (it stayed for good, and
        memory grew with every run written)."""
        previous = job.last_finished
        job.record_finish(run)
        if previous is not None and previous is not job.last_finished:
            self._settle(job, previous)

    def _place(self, job: Job, run: Run) -> None:
        """Keep `runs` to running runs and last runs; other finished runs go to the cache."""
        last = job.last_run
        if last is None or (run is not last and run.started_at >= last.started_at):
            job.last_run = run
            if last is not None:
                self._settle(job, last)
        self._settle(job, run)

    def _settle(self, job: Job, run: Run) -> None:
        if (
            run.status == RUNNING
            or run.status in WAITING_STATUSES
            or run is job.last_run
            or run is job.last_finished
        ):
            self._finished.pop(run.run_id, None)
            self.runs[run.run_id] = run
        else:
            self.runs.pop(run.run_id, None)
            self._cache_finished(run)

    def _sample_progress(self, run: Run, event: Event) -> tuple[Sample | None, Thinning | None]:
        """Keep at most `max_samples` evenly spread progress points per run, whatever its length."""
        if event.at - run.last_sample_at < self.settings.sample_interval:
            return None, None
        seq = run.samples
        run.samples += 1
        run.last_sample_at = event.at
        thinning = None
        step = 1 << run.sample_level
        if -(-run.samples // step) > self.settings.max_samples:
            run.sample_level += 1
            step <<= 1
            thinning = Thinning(run.run_id, step)
        if seq % step:
            return None, thinning
        return Sample(run.run_id, seq, event), thinning

    # -- time-driven changes -------------------------------------------------------------

    def lost_runs(self, now: float) -> Iterator[tuple[Job, Run]]:
        """Running runs silent for longer than their lost-after."""
        default = self.settings.lost_after
        for job in self.jobs.values():
            for run in job.running.values():
                if run.is_lost(now, default):
                    yield job, run

    def mark_lost(self, job: Job, run: Run) -> Change:
        """Mark a silent run lost: it ends at its last sign of life and counts as lost."""
        run.status = LOST
        run.finished_at = run.last_event_at
        if run.attempts and run.attempts[-1].ended_at is None:
            run.attempts[-1] = run.attempts[-1]._replace(ended_at=run.last_event_at, outcome=LOST)
        job.running.pop(run.run_id, None)
        self._record_finish(job, run)
        self.touch(job)
        self._settle(job, run)
        if run.queue is not None:
            self.queues.follow(run, "finished", run.last_event_at)
        return Change("finished", job, run, True)

    def expire_seen(self, now: float) -> None:
        """Forget event ids older than the in-memory window (they remain in the store)."""
        horizon = now - self.settings.seen_window
        while self._seen:
            _, received_at = next(iter(self._seen.values()))
            if received_at >= horizon:
                break
            self._seen.popitem(last=False)
            self.seen_since = max(self.seen_since, received_at)

    # -- jobs ----------------------------------------------------------------------------

    def add_job(self, job: Job) -> None:
        """Adopt a job restored from the store, with its running runs and last run."""
        self.jobs[job.key] = job
        self._sorted_keys = None
        self.next_job_id = max(self.next_job_id, job.id + 1)
        for run in (*job.running.values(), *job.waiting.values()):
            self.runs[run.run_id] = run
            if run.queue is not None:
                self.queues.follow(run, "restored", run.last_event_at)
        if job.last_run is not None:
            self.runs[job.last_run.run_id] = job.last_run
        if job.last_finished is not None:
            self.runs.setdefault(job.last_finished.run_id, job.last_finished)

    def delete_jobs(self, name: str, labels: JobKey | None = None) -> list[Job]:
        """Remove every label set of a job name (or exactly one key) from memory."""
        doomed = [labels] if labels is not None else [j.key for j in self.jobs_named(name)]
        removed = []
        for key in doomed:
            job = self.jobs.pop(key, None)
            if job is None:
                continue
            self.changes.deleted(key)
            self._sorted_keys = None
            removed.append(job)
            last = (job.last_run, job.last_finished)
            self.queues.forget([*job.running, *job.waiting])
            held = [*job.running, *job.waiting, *(r.run_id for r in last if r)]
            for run_id in held:
                self.runs.pop(run_id, None)
            for run_id in [rid for rid, run in self._finished.items() if run.job == key]:
                del self._finished[run_id]
        return removed

    def job(self, key: JobKey, at: float, kind: str) -> Job:
        """The job with this key, created (of this kind) when there is none."""
        job = self.jobs.get(key)
        if job is None:
            job = self._create_job(key, at, kind)
        return job

    def _create_job(self, key: JobKey, at: float, kind: str = BATCH) -> Job:
        job = Job(key=key, id=self.next_job_id, created_at=at, kind=kind)
        job.recent = type(job.recent)(maxlen=self.settings.recent_runs)
        self.next_job_id += 1
        self.jobs[key] = job
        self.changes.changed(key, job)
        self._sorted_keys = None
        return job

    def touch(self, job: Job) -> None:
        """The job changed: its generation moves, and the rules will look at it."""
        job.generation += 1
        self.changes.changed(job.key, job)

    def _cache_finished(self, run: Run) -> None:
        self._finished[run.run_id] = run
        self._finished.move_to_end(run.run_id)
        while len(self._finished) > self.settings.run_cache:
            self._finished.popitem(last=False)

    def _remember_seen(self, event_id: str, run_id: str, now: float) -> None:
        self._seen[event_id] = (run_id, now)
        if len(self._seen) > self.settings.seen_capacity:
            _, (_, received_at) = self._seen.popitem(last=False)
            self.seen_since = max(self.seen_since, received_at)


def needs_stored_id(event: Event) -> bool:
    """Whether applying this event twice would do something twice, so that its event_id must
    be remembered beyond the in-memory window. An event naming its run is idempotent by
    the run's own state: a second start or end changes nothing, and progress older than
    the run's latest is ignored. An event without a run_id opens or closes a run."""
    return event.run_id is None


def _merge_event(run: Run, event: Event) -> None:
    """Copy what the event carries onto the run; absent fields leave the run as it was."""
    if run.readings.update(event.readings):
        run.last_progress_at = max(run.last_progress_at, event.at)
    run.last_event_at = max(run.last_event_at, event.at)
    if event.message is not None:
        run.message = event.message
    if event.exit_code is not None:
        run.exit_code = event.exit_code
    if event.lost_after is not None:
        run.lost_after = event.lost_after
    if event.metrics:
        run.metrics.update(event.metrics)
    if event.queue is not None:
        run.queue = event.queue
    if event.attempt is not None:
        run.attempt = event.attempt
    if event.max_attempts is not None:
        run.max_attempts = event.max_attempts
    if event.worker is not None:
        run.worker = event.worker


def _end_attempt(run: Run, outcome: str, event: Event) -> None:
    """End the run's current attempt at the event, with its outcome and message."""
    message = event.message[:ATTEMPT_MESSAGE_LIMIT] if event.message is not None else None
    ended = run.attempts[-1]._replace(ended_at=event.at, outcome=outcome, message=message)
    run.attempts[-1] = ended
    run.attempt = run.attempts[-1].number


_STARTABLE = (RUNNING, LOST, *WAITING_STATUSES)
"""Statuses a `start` may find its run in: it starts the next attempt of a waiting run."""
_OPENING_EVENTS = frozenset(("start", "queued"))
"""Events that open a new run when they name none."""
_WAITING_EVENTS = frozenset(("queued", "retry"))
"""Events that make a run they open wait for a worker."""


def _job_order(job: Job) -> JobKey:
    return job.key


def new_run_id() -> str:
    return uuid.uuid4().hex
