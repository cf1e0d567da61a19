"""Alerting's place in the app: loading the rules, starting and stopping, the hooks the push,
sweep and delete paths call, and reloading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web

from batchgate.collector import __version__
from batchgate.collector.alerting.metrics import AlertingCollector, AlertingMetrics
from batchgate.collector.alerting.outbox import Outbox
from batchgate.collector.alerting.service import Alerting
from batchgate.collector.alerting.settings import AlertingSettings, alerting_settings
from batchgate.collector.core.model import Job
from batchgate.collector.core.state import Change
from batchgate.collector.http.keys import (
    ALERTING,
    BUS,
    CLOCK,
    REGISTRY,
    SETTINGS,
    STATE,
    STORE,
    WRITER,
)
from batchgate.collector.settings import Settings
from batchgate.rules import ConfigError, ConfigErrors, RuleSet, collect_rules, default_rules

log = logging.getLogger(__name__)


def load_ruleset(settings: AlertingSettings) -> RuleSet:
    """The rules these settings name (the default rules when they name none); raises
    ConfigErrors with every error of every file."""
    if not settings.rules_files:
        return default_rules()
    paths = settings.rule_paths()
    if not paths:
        log.warning("no rule file matches %s: no rules", ", ".join(settings.rules_files))
    rules, errors = collect_rules(paths)
    if errors:
        raise ConfigErrors(errors)
    return RuleSet.of(rules, paths)


def with_history_for(settings: Settings, ruleset: RuleSet) -> Settings:
    """Settings whose jobs keep as many finished runs as the rules look back over."""
    needed = ruleset.history_needed
    if needed <= settings.runs.recent_runs:
        return settings
    return replace(settings, runs=replace(settings.runs, recent_runs=needed))


def external_url(settings: Settings) -> str:
    """Where people reach batchgate, for links in notifications."""
    if settings.alerting.external_url is not None:
        return settings.alerting.external_url
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else socket.gethostname()
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def alerting_context(
    ruleset: RuleSet,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that runs alerting, after the storage context has started."""

    async def alerting(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        stored = await app[STORE].alerting_state()
        session = aiohttp.ClientSession(headers={"User-Agent": f"batchgate/{__version__}"})
        metrics = AlertingMetrics(app[REGISTRY])
        outbox = Outbox(
            app[WRITER],
            session,
            metrics,
            app[CLOCK],
            settings.alerting.notifications,
            external_url=external_url(settings),
            evaluation_interval=settings.alerting.evaluation_interval,
        )
        service = Alerting(
            settings=settings.alerting,
            ruleset=ruleset,
            state=app[STATE],
            writer=app[WRITER],
            bus=app[BUS],
            outbox=outbox,
            metrics=metrics,
            clock=app[CLOCK],
        )
        service.restore(stored, app[CLOCK]())
        app[ALERTING] = service
        app[REGISTRY].register(AlertingCollector(service))
        outbox.start()
        evaluating = asyncio.create_task(service.run(), name="batchgate-rules")
        try:
            yield
        finally:
            evaluating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await evaluating
            await outbox.stop()
            await session.close()

    return alerting


AT_ONCE: Final = frozenset({"started", "finished", "revived"})
"""Changes evaluated as they happen: a run starting, ending (failed, lost...) or coming back.
Progress and heartbeats, most of the traffic, are left to the next pass (their job's
generation moved, so the pass evaluates it): what they change (stuck, resource, duration)
is measured in minutes, and evaluating every one of them would cost pushes a third of their
throughput with 50 rules. Unless their job has alerts, which they may resolve: those are
evaluated at once (`evaluate_if_alerting`)."""


def evaluate_changes(app: web.Application, changes: Iterable[Change], now: float) -> None:
    """Evaluate the jobs whose runs started, ended or came back (after a push or a sweep),
    and those with alerts."""
    service = app.get(ALERTING)
    if service is None:
        return
    has_alerts = service.engine.has_alerts
    jobs = {
        id(change.job): change.job
        for change in changes
        if change.kind in AT_ONCE or has_alerts(change.job.key)
    }
    if jobs:
        service.evaluate_jobs(jobs.values(), now)


def evaluate_if_alerting(app: web.Application, job: Job, now: float) -> None:
    """Evaluate a job at once if it has alerts, which the change may resolve (a group's push
    ends its `absent`); a job with none waits for the next pass, as it costs a push nothing."""
    service = app.get(ALERTING)
    if service is not None and service.engine.has_alerts(job.key):
        service.evaluate_jobs((job,), now)


def forget_jobs(app: web.Application, jobs: Iterable[Job], now: float) -> None:
    """Deleted jobs: resolve their alerts."""
    service = app.get(ALERTING)
    if service is not None:
        service.forget_jobs((job.key for job in jobs), now)


async def reload_alerting(app: web.Application) -> Alerting:
    """Read the config file's alerting keys and the rule files again and use them; on any
    error raise ConfigErrors and keep what is in effect (and say so in /health, /metrics)."""
    service = app[ALERTING]
    async with service.reload_lock:
        try:
            settings, ruleset = await asyncio.to_thread(_read_alerting, app[SETTINGS])
        except ConfigErrors as errors:
            service.reload_failed(errors.errors)
            raise
        await service.use(settings, ruleset)
    return service


def _read_alerting(settings: Settings) -> tuple[AlertingSettings, RuleSet]:
    text = file = None
    if settings.config_file is not None:
        file = str(settings.config_file)
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigErrors([ConfigError(file, 0, f"cannot read: {error.strerror}")]) from None
    alerting, errors = alerting_settings(text, file, settings.alerting.rules_flags)
    if errors:
        raise ConfigErrors(errors)
    return alerting, load_ruleset(alerting)


def request_reload(app: web.Application) -> None:
    """Reload in the background (SIGHUP); the outcome is logged and shown in /health."""

    async def reload() -> None:
        started = time.monotonic()
        try:
            await reload_alerting(app)
        except ConfigErrors:
            return  # reload_failed logged it
        log.info("reloaded in %.3fs", time.monotonic() - started)

    service = app.get(ALERTING)
    if service is None:
        return
    task = asyncio.get_running_loop().create_task(reload(), name="batchgate-reload")
    service.tasks.add(task)  # held until done: the loop keeps only weak references
    task.add_done_callback(service.tasks.discard)
