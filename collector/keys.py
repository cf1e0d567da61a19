"""Typed keys for everything the application owns (no globals)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry

from collector.alerting.service import Alerting
from collector.auth import Authenticator
from collector.groups import Groups
from collector.live import EventBus
from collector.metrics import RequestMetrics
from collector.settings import Settings
from collector.state import State
from collector.store import Store
from collector.writer import Writer

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
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
