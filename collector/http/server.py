"""Running the server: listen (through the front door unless `http.fast_path` is off), stop
gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl
import sys

from aiohttp import web

from batchgate.collector import __version__
from batchgate.collector.http.alerting import request_reload
from batchgate.collector.http.app import create_app
from batchgate.collector.http.front_door import FrontDoorRunner, FrontDoorSite
from batchgate.collector.observability.logs import ACCESS_LINES
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import StoreUnavailable
from batchgate.rules import ConfigErrors

log = logging.getLogger("batchgate")

SHUTDOWN_TIMEOUT = 10.0
"""Seconds in-flight requests get to finish once a stop is asked for."""
GC_YOUNG_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""


def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    try:
        return asyncio.run(_serve(settings))
    except StoreUnavailable as error:
        print(f"batchgate: {error}", file=sys.stderr)
        return 1
    except ConfigErrors as failed:
        for config_error in failed.errors:
            print(f"batchgate: {config_error}", file=sys.stderr)
        return 1


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


async def _serve(settings: Settings) -> int:
    app = create_app(settings)
    access_log = logging.getLogger("batchgate.access") if settings.logging.access_log else None
    runner = FrontDoorRunner(
        app,
        handle_signals=False,
        access_log=access_log,
        access_log_format=settings.logging.format,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    # What was restored lives as long as the server: leave it out of every garbage
    # collection from now on (a full collection walks every tracked object, and with
    # many jobs that pauses the event loop).
    gc.freeze()
    # With Python's default, the objects of the pushes in flight (a batch of 100 events is
    # some 400 dicts and lists) were still alive at most young collections, got promoted,
    # and brought on frequent full collections of every live object. With this threshold
    # most of them are gone by the time of a collection (docs/decisions.md, "A young-
    # generation GC threshold"; figures in docs/benchmarks.md).
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        ssl_context = _tls(settings)
    except (OSError, ssl.SSLError) as error:
        await runner.cleanup()
        print(f"batchgate: cannot use the TLS certificate or key: {error}", file=sys.stderr)
        return 1
    site_class = FrontDoorSite if settings.http_fast_path else web.TCPSite
    site = site_class(
        runner, settings.host or None, settings.port, reuse_address=True, ssl_context=ssl_context
    )
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        print(f"batchgate: cannot listen on {settings.listen}: {error.strerror}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, request_reload, app)
    log.info(
        "batchgate %s listening on %s://%s, data in %s",
        __version__,
        "https" if ssl_context else "http",
        settings.listen,
        settings.data_dir,
    )
    if not settings.http_fast_path:
        log.info("http.fast_path is false: aiohttp answers every request, pushes too")
    if not settings.tokens:
        log.warning(
            "no auth tokens configured: anyone who can reach %s may push, read and delete "
            "(configure auth.tokens in the config file)",
            settings.listen,
        )
    await stop.wait()
    log.info("stopping: finishing requests in flight and flushing writes")
    await runner.cleanup()
    ACCESS_LINES.flush()
    log.info("stopped")
    return 0
