"""Alerting's place in the application: started after the store (and handed to the ingest
service, whose pushes it evaluates), stopped before it, and reloaded on SIGHUP or
`POST /-/reload`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from batchgate.collector import __version__
from batchgate.collector.alerting.loading import external_url, read_alerting
from batchgate.collector.alerting.metrics import AlertingCollector, AlertingMetrics
from batchgate.collector.alerting.outbox import Outbox
from batchgate.collector.alerting.service import Alerting
from batchgate.collector.http.keys import (
    ALERTING,
    BUS,
    CLOCK,
    INGEST,
    REGISTRY,
    SETTINGS,
    STATE,
    STORE,
    WRITER,
    own,
)
from batchgate.rules import ConfigErrors, RuleSet

log = logging.getLogger(__name__)


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
        own(app, ALERTING, service)
        app[INGEST].alerting = service
        app[REGISTRY].register(AlertingCollector(service))
        outbox.start()
        evaluating = asyncio.create_task(service.run(), name="batchgate-rules")
        try:
            yield
        finally:
            app[INGEST].alerting = None
            evaluating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await evaluating
            await outbox.stop()
            await session.close()

    return alerting


async def reload_alerting(app: web.Application) -> Alerting:
    """Read the config file's alerting keys and the rule files again and use them; on any
    error raise ConfigErrors and keep what is in effect (and say so in /health, /metrics)."""
    service = app[ALERTING]
    async with service.reload_lock:
        try:
            settings, ruleset = await asyncio.to_thread(read_alerting, app[SETTINGS])
        except ConfigErrors as errors:
            service.reload_failed(errors.errors)
            raise
        await service.use(settings, ruleset)
    return service


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
