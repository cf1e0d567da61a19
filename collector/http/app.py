"""The application factory: `create_app(settings)` and what the app owns for its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from batchgate.collector.alerting.loading import load_ruleset, with_history_for
from batchgate.collector.auth import Authenticator
from batchgate.collector.core.state import State
from batchgate.collector.groups import Groups
from batchgate.collector.http.alerting import alerting_context
from batchgate.collector.http.handed_over import HANDLER_ARGUMENTS
from batchgate.collector.http.keys import (
    ALERTING,
    AUTHENTICATOR,
    BUS,
    CLOCK,
    GROUPS,
    INGEST,
    JOB_EXPOSITION,
    REGISTRY,
    REQUEST_METRICS,
    SETTINGS,
    STATE,
    STORE,
    WRITER,
    own,
)
from batchgate.collector.http.middlewares import request_middlewares
from batchgate.collector.http.routes import setup_routes
from batchgate.collector.http.standby import LEADERSHIP, NODE, standby_refusal
from batchgate.collector.ingest import Ingest
from batchgate.collector.leadership import Leadership, LeaseClaims, Node
from batchgate.collector.live import EventBus
from batchgate.collector.observability.job_metrics import JobExposition
from batchgate.collector.observability.metrics import (
    LeadershipCollector,
    LeaseMetrics,
    RequestMetrics,
    ServerCollector,
)
from batchgate.collector.observability.queue_metrics import QueueCollector
from batchgate.collector.pushgateway import GroupRegistry
from batchgate.collector.settings import Settings
from batchgate.collector.storage.open import store_for
from batchgate.collector.storage.store import Store
from batchgate.collector.storage.writer import Writer

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    store: Store | None = None,
) -> web.Application:
    """Build the batchgate application. Storage opens when the app starts, not here.
    Invalid rule files raise rules.ConfigErrors (every error, with its file and line)."""
    ruleset = load_ruleset(settings.alerting)
    settings = with_history_for(settings, ruleset)
    authenticator = Authenticator(settings.tokens)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=request_middlewares(authenticator),
        handler_args=dict(HANDLER_ARGUMENTS),
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[AUTHENTICATOR] = authenticator
    app[JOB_EXPOSITION] = JobExposition()
    app[STORE] = store if store is not None else store_for(settings)
    app[BUS] = EventBus()
    registry = CollectorRegistry(auto_describe=False)
    app[REGISTRY] = registry
    app[REQUEST_METRICS] = RequestMetrics(registry)
    app[NODE] = _node(app, alerting_context(ruleset))
    app[LEADERSHIP] = app[NODE].leadership
    registry.register(LeadershipCollector(app[LEADERSHIP]))
    app.cleanup_ctx.append(_serving)
    app.on_shutdown.append(_hang_up_listeners)
    setup_routes(app, settings.route_prefix)
    return app


def _node(app: web.Application, alerting: Callable[[web.Application], AsyncIterator[None]]) -> Node:
    """The node: with SQLite the sole leader; with PostgreSQL one of several, leading while
    it holds the lease. Its leader's session is what a single node runs from start to end:
    the store and the live state, the periodic tasks, alerting."""
    settings, store = app[SETTINGS], app[STORE]
    ha = settings.ha
    url = ha.advertise_url or f"http://{ha.node_name}:{settings.port}"
    lease: LeaseClaims | None = None
    fence: Callable[[int | None], None] | None = None
    if settings.store_url:
        from batchgate.collector.storage.postgres.lease import LeaseTable
        from batchgate.collector.storage.postgres.store import PostgresStore

        if isinstance(store, PostgresStore):
            postgres = store
            postgres.fence_hold = ha.lease / 2
            lease = LeaseTable(settings.store_url, settings.store_password_file, ha.lease / 3)

            def fence(epoch: int | None) -> None:
                postgres.fence_epoch = epoch or 0  # no lease has epoch 0: commit nothing

    leadership = (
        Leadership(ha.node_name, url, ha.lease) if lease else Leadership.sole(ha.node_name, url)
    )
    contexts = (_storage, _background_tasks, alerting)

    @contextlib.asynccontextmanager
    async def session() -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for context in contexts:
                await stack.enter_async_context(contextlib.asynccontextmanager(context)(app))
            yield

    def announce(leadership: Leadership) -> None:
        if not leadership.leads:
            app[INGEST].not_leader = lambda: standby_refusal(leadership)
        app[BUS].publish("node.role", leadership.as_json())

    metrics = LeaseMetrics(app[REGISTRY])
    return Node(
        leadership, session, lease, fence or (lambda epoch: None), announce,
        metrics.renewal_seconds.observe,
    )  # fmt: skip


async def _serving(app: web.Application) -> AsyncIterator[None]:
    """Serve as the node's role says: a standby's refusing stand-ins until it leads."""
    _stand_by(app)
    node = app[NODE]
    await node.start()
    try:
        yield
    finally:
        await node.stop()


def _stand_by(app: web.Application) -> None:
    """A standby's live state: empty, and an ingest service that refuses every change with
    the leader's name (the front door calls it as it does on the leader)."""
    settings, leadership = app[SETTINGS], app[LEADERSHIP]
    state = State(settings.runs)
    writer = Writer(app[STORE], settings.max_write_queue, settings.push_timeout, app[CLOCK])
    groups = Groups(GroupRegistry(), state, writer, settings.pushgateway.expiry_rules)
    ingest = Ingest(
        settings, app[CLOCK], state, writer, groups, app[STORE], app[BUS], app[REQUEST_METRICS]
    )
    ingest.not_leader = lambda: standby_refusal(leadership)
    for key, value in ((STATE, state), (WRITER, writer), (GROUPS, groups), (INGEST, ingest)):
        own(app, key, value)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    """Open the store, restore the live state from it, and run the writer."""
    settings, store = app[SETTINGS], app[STORE]
    runs = settings.runs
    started = app[CLOCK]()
    timer = time.perf_counter()
    with _collection_paused():
        restored = await store.open(started, runs.recent_runs, runs.seen_window)
    steps = dict(restored.seconds)
    timer, steps["opening the store"] = time.perf_counter(), time.perf_counter() - timer
    state = State(runs)
    for job in restored.jobs:
        state.add_job(job)
    state.remember_event_ids((s.event_id, s.run_id, s.received_at) for s in restored.seen)
    state.seen_since = restored.seen_since
    writer = Writer(store, settings.max_write_queue, settings.push_timeout, app[CLOCK])
    writer.start()
    groups = Groups(
        GroupRegistry(
            reserved_prefixes=("batchgate_",),
            max_body_bytes=settings.max_body_bytes,
            max_series_per_group=settings.pushgateway.max_series_per_group,
            aggregate=settings.pushgateway.aggregate,
        ),
        state,
        writer,
        settings.pushgateway.expiry_rules,
    )
    groups.started_at = started
    steps["live state"] = time.perf_counter() - timer
    timer = time.perf_counter()
    in_flight = [
        run for job in restored.jobs for run in (*job.waiting.values(), *job.running.values())
    ]
    state.queues.restore(restored.queues, in_flight, started)
    steps["queue windows"] = time.perf_counter() - timer
    timer = time.perf_counter()
    restored_groups = groups.restore(restored.groups)
    state.reckon_downtime(started, restored.alive_at)  # once the groups' jobs are back too
    steps["Pushgateway groups"] = time.perf_counter() - timer
    ingest = Ingest(
        settings, app[CLOCK], state, writer, groups, store, app[BUS], app[REQUEST_METRICS]
    )
    # The session's own metrics, beside the node's: dropped whole when it ends.
    node_registry = app[REGISTRY]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(node_registry)
    registry.register(ServerCollector(state, writer, app[BUS]))
    registry.register(QueueCollector(state, app[CLOCK]))
    for key, value in (
        (STATE, state), (WRITER, writer), (GROUPS, groups), (INGEST, ingest), (REGISTRY, registry)
    ):  # fmt: skip
        own(app, key, value)
    log.info(
        "restored %d jobs, %d running runs and %d Pushgateway groups from %s in %.2f s (%s)",
        len(state.jobs) - restored_groups,
        sum(len(job.running) for job in state.jobs.values()),
        restored_groups,
        getattr(store, "path", "the store"),
        steps["opening the store"]
        + steps["live state"]
        + steps["queue windows"]
        + steps["Pushgateway groups"],
        ", ".join(f"{name} {seconds:.3f} s" for name, seconds in steps.items()),
    )
    try:
        yield
    finally:
        leading = app[LEADERSHIP].leads
        if not leading:  # stepping down: nothing more may be acknowledged here
            ingest.not_leader = lambda: standby_refusal(app[LEADERSHIP])
        # A leader that lost its lease cannot commit what is left: its pushes got no 2xx.
        if leading:
            await writer.stop()
        else:
            await writer.stop(grace=0.5)
            # The pushes still waiting are refused now, not after push_timeout.
            writer.abandon("this node lost the leadership lease; retry with the leader")
        await store.close()
        own(app, REGISTRY, node_registry)
        own(app, ALERTING, None)
        if not leading:
            _stand_by(app)


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Python's cycle collector paused while the store restores the live state: the restore
    makes a million objects at 1M runs and keeps every one, and each collection in between
    (every 700 allocations, the oldest generation ever more often) would only walk them
    again: a third of the restore's time (docs/benchmarks.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(_sweep_lost_runs(app), name="batchgate-sweep"),
        asyncio.create_task(_retention(app), name="batchgate-retention"),
        asyncio.create_task(_housekeeping(app), name="batchgate-housekeeping"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _hang_up_listeners(app: web.Application) -> None:
    app[BUS].close()


async def _sweep_lost_runs(app: web.Application) -> None:
    while True:
        await asyncio.sleep(app[SETTINGS].sweep_interval)
        try:
            lost = app[INGEST].sweep()
        except Exception:
            log.exception("sweeping lost runs failed")
            continue
        if lost:
            log.info("marked %d silent runs lost", lost)


async def _housekeeping(app: web.Application) -> None:
    while True:
        await asyncio.sleep(1.0)
        try:
            await app[STORE].housekeeping()
        except Exception:
            log.exception("store housekeeping failed; will retry")


async def _retention(app: web.Application) -> None:
    while True:
        await asyncio.sleep(app[SETTINGS].retention.interval)
        try:
            deleted = await app[INGEST].apply_retention()
        except Exception:
            log.exception("retention failed; will retry")
            continue
        if deleted:
            log.info("retention deleted %d runs", deleted)
