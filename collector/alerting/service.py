"""Alerting in the running server: the rules engine over the live state, silences, reloads.

The rules package decides (pure, `now` passed in); this module runs it: every
`evaluation_interval` in a background pass taken in chunks (the event loop is never held for
long), and right after each push or sweep for the jobs it touched. Whatever an evaluation
changes is staged in the one writer (alert changes and the notifications they make commit
together), published on /events, and handed to the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from batchgate.collector.alerting.api_json import alert_json, schedules_json
from batchgate.collector.alerting.metrics import AlertingMetrics
from batchgate.collector.alerting.outbox import Outbox
from batchgate.collector.alerting.settings import AlertingSettings
from batchgate.collector.core.api_json import finite_number
from batchgate.collector.core.model import Job, JobKey
from batchgate.collector.core.queues import Queue
from batchgate.collector.core.records import AlertEventRecord, SilenceRecord
from batchgate.collector.core.state import State
from batchgate.collector.live import EventBus
from batchgate.collector.storage.store import AlertingState
from batchgate.collector.storage.writer import Writer
from batchgate.rules import (
    AlertBook,
    ConfigError,
    Context,
    Evaluation,
    InvalidSilence,
    Router,
    RuleEngine,
    RuleSet,
    Silence,
    Transition,
    parse_silence,
    silencing,
)
from batchgate.rules.silences import ACTIVE, EXPIRED, PENDING

log = logging.getLogger(__name__)

CHUNK: Final = 100
"""Jobs given to the engine at a time..."""
STEP: Final = 0.005
"""...until a step has taken this long: then the pass yields to the event loop. (A task that
becomes ready meanwhile may wait for a step or two, as asyncio runs what was ready first.)"""
SILENCE_RETENTION: Final = 5 * 86400.0
"""Expired silences stay listed this long (Alertmanager's default data retention, 120h)."""
RECENT_DROPS: Final = 3600.0
"""/health says notifications were dropped for this long after the last drop."""


class _Steps:
    """Times the steps of a pass, and yields to the event loop once a step has taken STEP."""

    def __init__(self) -> None:
        self.spent = self.longest = 0.0
        self._started = time.perf_counter()

    async def step(self, *, now: bool = False) -> None:
        """End a step here if it has taken STEP (or `now`), and let the event loop run."""
        if now or time.perf_counter() - self._started >= STEP:
            self.done()
            await asyncio.sleep(0)
            self._started = time.perf_counter()

    def done(self) -> None:
        step = time.perf_counter() - self._started
        self.spent += step
        self.longest = max(self.longest, step)


HISTORY_EVENTS: Final = frozenset({"firing", "severity", "resolved"})
"""The transitions kept in the alert history (pending and dropped alerts never fired)."""


def alert_event_record(transition: Transition) -> AlertEventRecord:
    alert = transition.alert
    return AlertEventRecord(
        transition.at,
        transition.kind,
        alert["id"],
        alert["rule"],
        alert["job"],
        json.dumps(alert.get("job_labels") or {}, sort_keys=True, separators=(",", ":")),
        alert.get("run_id"),
        alert["severity"],
        finite_number(alert.get("value")),
        (alert.get("annotations") or {}).get("summary"),
    )


@dataclass(slots=True)
class ReloadStatus:
    loaded_at: float
    """Wall time of the last successful load of the rules and receivers."""
    files: tuple[str, ...] = ()
    error: str | None = None
    """Why the last reload failed (its first errors), while the old rules stay in effect."""
    errors: list[ConfigError] = field(default_factory=list)
    failed_at: float | None = None


class Alerting:
    """The rules engine, the silences and the outbox of one running server."""

    def __init__(
        self,
        *,
        settings: AlertingSettings,
        ruleset: RuleSet,
        state: State,
        writer: Writer,
        bus: EventBus,
        outbox: Outbox,
        metrics: AlertingMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self._state = state
        self._writer = writer
        self._bus = bus
        self.outbox = outbox
        self._metrics = metrics
        self._clock = clock
        self.router = Router(settings.receivers)
        book = AlertBook(router=self.router, resolved_retention=settings.resolved_retention)
        context = Context(default_lost_after=state.settings.lost_after, deaf=state.deaf)
        self.engine = RuleEngine(ruleset, book=book, context=context)
        outbox.set_receivers(settings.receivers)
        self.silences: dict[str, Silence] = {}
        self._silence_list: list[Silence] = []
        """One list object, updated in place: a pass under way sees silences added meanwhile."""
        self._windows: tuple[Silence, ...] = settings.maintenance_windows
        """The config file's maintenance windows, in effect beside `silences`."""
        self._publish_silences()
        self.reload_status = ReloadStatus(time.time(), tuple(ruleset.files))
        self.longest_step = 0.0
        """The longest step of the last pass (how long it held the event loop at once)."""
        self.last_pass_seconds = 0.0
        """The time the last pass spent evaluating, its steps added up."""
        self.passes = 0
        self._wake = asyncio.Event()
        self._full_pass_due = True
        self._pass_lock = asyncio.Lock()
        self.reload_lock = asyncio.Lock()
        """Held by a reload from reading the files to using them: one reload at a time."""
        self.tasks: set[asyncio.Task[None]] = set()
        """Reloads under way (SIGHUP)."""

    # -- start ---------------------------------------------------------------------------

    def restore(self, stored: AlertingState, now: float) -> None:
        """Take back what the store kept: alerts (not notified again as new), silences and
        undelivered notifications. The first pass re-judges every alert."""
        self.engine.restore(stored.alerts)
        for data in stored.silences:
            try:
                silence = parse_silence(data, new_id="", now=now, stored=True)
            except InvalidSilence as error:
                log.error("ignoring a stored silence that no longer parses: %s", error)
                continue
            self.silences[silence.id] = silence
        self._publish_silences()
        self.outbox.restore(stored.outbox)
        active = len(self.engine.book.active)
        if active or stored.outbox:
            log.info(
                "restored %d active alerts, %d silences, %d notifications to deliver",
                active,
                len(self.silences),
                len(stored.outbox),
            )

    # -- evaluating ----------------------------------------------------------------------

    def evaluate_jobs(self, jobs: Iterable[Job], now: float) -> None:
        """Evaluate these jobs now (they just changed): a failure alerts within the push."""
        started = time.perf_counter()
        silences = self._silence_list
        for job in jobs:
            self._apply(self.engine.evaluate_job(job, now, silences=silences))
        self._metrics.event_evaluation.observe(time.perf_counter() - started)

    def schedules(self, job: Job, now: float) -> list[dict[str, Any]]:
        """The schedules the job's `missed` rules expect it to keep (`GET /jobs/{job}`)."""
        return schedules_json(self.engine.rules_for(job), job, now, self.engine.context)

    def forget_jobs(self, keys: Iterable[JobKey], now: float) -> None:
        """Jobs were deleted: their alerts resolve now."""
        for key in keys:
            self._apply(self.engine.forget_job(key, now))

    def wake(self, *, full: bool = False) -> None:
        """Run a pass now rather than at the next interval (a full one when asked)."""
        self._full_pass_due = self._full_pass_due or full
        self._wake.set()

    async def run(self) -> None:
        """Evaluate every `evaluation_interval` (and when woken), until cancelled."""
        changes = (self._state.changes, self._state.queues.changes)
        for log_ in changes:
            log_.watch()
        try:
            while True:
                self._wake.clear()
                full, self._full_pass_due = self._full_pass_due, False
                try:
                    await self.evaluate_all(full=full)
                    self._forget_old_silences(self._clock())
                except Exception:
                    log.exception("rules evaluation failed; will try again")
                    self._metrics.evaluation_failures.inc()
                    self.engine.needs_every_job = True  # what the pass took may be lost
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.evaluation_interval)
        finally:
            for log_ in changes:
                log_.watch(False)

    async def evaluate_all(self, *, full: bool = False) -> Evaluation:
        """One pass, in steps with the event loop free in between (pushes are applied and
        evaluated meanwhile). A scan pass gives the engine every live job (the first pass, a
        full one, after a reload); the others give it what changed since the last pass and
        let it find the jobs whose deadline has come: O(changes), not O(jobs)."""
        async with self._pass_lock:
            now = self._clock()
            state, engine = self._state, self.engine
            changed_jobs, changed_queues = state.changes.take(), state.queues.changes.take()
            scan = full or engine.needs_every_job or not state.changes.watched
            evaluation_pass = engine.start_pass(
                now, full=full, changes=not scan, silences=self._silence_list
            )
            steps = _Steps()
            if scan:
                jobs: list[Job | Queue] = list(state.jobs.values())
                # The queues the runs name, which only the queue kinds judge (10,000 at most).
                jobs += state.queues.queues.values()
            else:
                evaluation_pass.forget(
                    key
                    for changed in (changed_jobs, changed_queues)
                    for key, job in changed.items()
                    if job is None
                )
                jobs = [job for job in changed_jobs.values() if job is not None]
                jobs += (queue for queue in changed_queues.values() if queue is not None)
            for first in range(0, len(jobs), CHUNK):
                # A job deleted since the pass began is not evaluated (forget_jobs did it).
                evaluation_pass.evaluate(
                    job for job in jobs[first : first + CHUNK] if self._live(job)
                )
                await steps.step()
            if not scan:
                while evaluation_pass.evaluate_due(CHUNK) == CHUNK:
                    await steps.step()
            await steps.step(now=True)
            evaluation = evaluation_pass.finish()
            self._apply(evaluation)
            steps.done()
            self.longest_step, self.last_pass_seconds = steps.longest, steps.spent
            self.passes += 1
            metric = self._metrics.full_evaluation if full else self._metrics.periodic_evaluation
            metric.observe(self.last_pass_seconds)
            return evaluation

    def _live(self, job: Job | Queue) -> bool:
        if isinstance(job, Queue):
            return self._state.queues.queues.get(job.name) is job
        return self._state.jobs.get(job.key) is job

    def _apply(self, evaluation: Evaluation) -> None:
        """Stage what an evaluation changed (alerts and their notifications, in one commit),
        queue the notifications, and publish the transitions."""
        if evaluation.changed or evaluation.removed:
            self._writer.stage_alerts(evaluation.changed, evaluation.removed)
        history = [t for t in evaluation.transitions if t.kind in HISTORY_EVENTS]
        if history:
            self._writer.stage_alert_events(map(alert_event_record, history))
        if evaluation.notifications:
            self.outbox.add(evaluation.notifications)
        jobs = self._state.jobs
        for (name, labels), since in evaluation.late.items():
            job = jobs.get(JobKey(name, labels))
            if job is not None:
                job.late_since = since
        for transition in evaluation.transitions:
            alert = transition.alert
            if transition.kind in ("firing", "resolved"):
                log.info(
                    "alert %s: %s for job %s%s",
                    transition.kind,
                    alert["rule"],
                    alert["job"],
                    f" run {alert['run_id']}" if alert.get("run_id") else "",
                )
            if self._bus.active:
                data: dict[str, Any] = dict(alert)
                # Silences are marked after the transitions are recorded: say them as now.
                data["silenced_by"] = silencing(self._silence_list, alert["labels"], transition.at)
                self._bus.publish(f"alert.{transition.kind}", alert_json(data))

    # -- silences ------------------------------------------------------------------------

    def _publish_silences(self) -> None:
        self._silence_list[:] = [*self.silences.values(), *self._windows]

    def listed_silences(self) -> list[Silence]:
        """Every silence: those made through the API, then the config file's windows."""
        return list(self._silence_list)

    def window(self, silence_id: str) -> Silence | None:
        """The config file's maintenance window with this id, if there is one."""
        return next((window for window in self._windows if window.id == silence_id), None)

    def put_silence(self, silence: Silence, now: float) -> None:
        """Add or replace a silence, stage it, and apply it to the alerts at once."""
        self.silences[silence.id] = silence
        self._publish_silences()
        record = SilenceRecord(
            silence.id, silence.ends_at, json.dumps(silence.to_dict(now), separators=(",", ":"))
        )
        self._writer.stage_silence(record)
        self._refresh(now)

    def expire_silence(self, silence_id: str, now: float) -> Silence | None:
        """End a silence now (Alertmanager's DELETE); None when there is no such silence."""
        silence = self.silences.get(silence_id)
        if silence is None:
            return None
        expired = silence.expire(now)
        if expired is not silence:
            self.put_silence(expired, now)
        return expired

    def silence_counts(self) -> dict[str, int]:
        now = self._clock()
        counts = dict.fromkeys((ACTIVE, PENDING, EXPIRED), 0)
        for silence in self._silence_list:
            counts[silence.state(now)] += 1
        return counts

    def _refresh(self, now: float) -> None:
        """Decide silenced marks and notifications again (the silences changed)."""
        evaluation = Evaluation(now)
        self.engine.book.refresh(now, evaluation, self._silence_list)
        self._apply(evaluation)

    def _forget_old_silences(self, now: float) -> None:
        horizon = now - SILENCE_RETENTION
        old = [key for key, silence in self.silences.items() if silence.ends_at < horizon]
        if old:
            for key in old:
                del self.silences[key]
            self._publish_silences()
            self._writer.stage_deleted_silences(old)

    # -- reloading -----------------------------------------------------------------------

    async def use(self, settings: AlertingSettings, ruleset: RuleSet) -> None:
        """Put new settings and rules in effect (a successful reload); a full pass follows."""
        async with self._pass_lock:  # never in the middle of a pass
            self.settings = settings
            self._keep_history_for(ruleset)
            self.router = Router(settings.receivers)
            self.outbox.set_receivers(settings.receivers)
            self.outbox.settings = settings.notifications
            self.outbox.evaluation_interval = settings.evaluation_interval
            if settings.external_url is not None:
                self.outbox.external_url = settings.external_url
            self.engine.book.resolved_retention = settings.resolved_retention
            self.engine.book.set_router(self.router)
            self.engine.replace_rules(ruleset)
            self._windows = settings.maintenance_windows
            self._publish_silences()
            self.reload_status = ReloadStatus(time.time(), tuple(ruleset.files))
        self.wake(full=True)
        rules, receivers = len(ruleset), len(settings.receivers)
        log.info(
            "loaded %d rule%s from %s and %d receiver%s",
            rules,
            "" if rules == 1 else "s",
            ", ".join(ruleset.files) or "nowhere",
            receivers,
            "" if receivers == 1 else "s",
        )

    def reload_failed(self, errors: list[ConfigError]) -> None:
        shown = "; ".join(str(error) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        status = self.reload_status
        status.error = f"{shown}{more}"
        status.errors = list(errors)
        status.failed_at = time.time()
        log.error("reload failed, the rules in effect stay: %s%s", shown, more)

    def _keep_history_for(self, ruleset: RuleSet) -> None:
        """Rules that look back over more runs than jobs keep: keep more from now on (the
        extra history fills as runs finish, and is loaded from the store at the next start)."""
        needed = ruleset.history_needed
        state = self._state
        if needed <= state.settings.recent_runs:
            return
        state.settings = replace(state.settings, recent_runs=needed)
        for job in state.jobs.values():
            job.recent = deque(job.recent, maxlen=needed)
        log.info("jobs now keep their last %d finished runs in memory, for the rules", needed)

    # -- health --------------------------------------------------------------------------

    def problems(self, now: float) -> list[dict[str, str]]:
        """Reasons for /health to say degraded: a failed reload, failing or dropping receivers."""
        problems: list[dict[str, str]] = []
        status = self.reload_status
        if status.error is not None:
            problems.append(
                {
                    "severity": "degraded",
                    "check": "rules",
                    "reason": f"the last reload failed, the rules loaded "
                    f"{now - status.loaded_at:.0f}s ago stay in effect: {status.error}",
                }
            )
        for name, queue in self.outbox.queues.items():
            if queue.failing_since is not None:
                problems.append(
                    {
                        "severity": "degraded",
                        "check": "notifications",
                        "reason": f"receiver {name} failing for "
                        f"{now - queue.failing_since:.0f}s ({len(queue.items)} waiting): "
                        f"{queue.last_error}",
                    }
                )
        drop = self.outbox.last_drop
        if drop is not None and now - drop[0] < RECENT_DROPS:
            at, receiver, reason = drop
            problems.append(
                {
                    "severity": "degraded",
                    "check": "notifications_dropped",
                    "reason": f"notifications to {receiver} dropped ({reason}) {now - at:.0f}s "
                    "ago; see batchgate_notifications_dropped_total",
                }
            )
        return problems
