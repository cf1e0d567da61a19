"""Typed keys for everything the application owns (no globals)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from batchgate.collector.alerting.service import Alerting
from batchgate.collector.auth import Authenticator
from batchgate.collector.core.state import State
from batchgate.collector.groups import Groups
from batchgate.collector.ingest import Ingest
from batchgate.collector.live import EventBus
from batchgate.collector.observability.job_metrics import JobExposition
from batchgate.collector.observability.metrics import RequestMetrics
from batchgate.collector.settings import Settings
from batchgate.collector.storage.store import Store
from batchgate.collector.storage.writer import Writer

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey[Callable[[], float]]("clock")
STORE = web.AppKey("store", Store)
STATE = web.AppKey("state", State)
WRITER = web.AppKey("writer", Writer)
BUS = web.AppKey("bus", EventBus)
REGISTRY = web.AppKey("registry", CollectorRegistry)
REQUEST_METRICS = web.AppKey("request_metrics", RequestMetrics)
ALERTING = web.AppKey("alerting", Alerting)
GROUPS = web.AppKey("groups", Groups)
JOB_EXPOSITION = web.AppKey("job_exposition", JobExposition)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
INGEST = web.AppKey("ingest", Ingest)
"""What every push, delete and sweep goes through (`batchgate.collector.ingest`)."""


def own(app: web.Application, key: web.AppKey[Any], value: Any) -> None:
    """Point an application key at what the node's role now uses. aiohttp deprecates
    changing a started app's state (a DeprecationWarning); a standby that takes over restores
    its live state long after the start, so the keys change then, whole, and only here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if value is None:
            app.pop(key, None)
        else:
            app[key] = value
