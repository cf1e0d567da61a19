"""Typed keys for everything the application owns (no globals)."""

from __future__ import annotations

from collections.abc import Callable

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
READY = web.AppKey("ready", dict[str, bool])
ALERTING = web.AppKey("alerting", Alerting)
GROUPS = web.AppKey("groups", Groups)
JOB_EXPOSITION = web.AppKey("job_exposition", JobExposition)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
INGEST = web.AppKey("ingest", Ingest)
"""What every push, delete and sweep goes through (`batchgate.collector.ingest`)."""
