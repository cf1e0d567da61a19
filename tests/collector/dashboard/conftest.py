"""Fixtures of the dashboard tests: a batchgate on a thread for the browser, with stand-ins
for the alerting and Pushgateway APIs where the server does not have them yet."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batchgate.collector.http.app import create_app
from batchgate.collector.settings import Settings
from tests.collector.dashboard.browser import ThreadedServer, browser
from tests.collector.dashboard.stand_ins import AlertingStandIn, PushgatewayStandIn, has_route

__all__ = ["Dashboard", "browser", "dashboard", "serving"]


@dataclass
class Dashboard:
    server: ThreadedServer
    alerting: AlertingStandIn | None
    """None when the server has the real alerting API."""
    pushgateway: PushgatewayStandIn | None
    """None when the server has the real Pushgateway API."""
    screenshots: Path

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.contextmanager
def serving(
    tmp_path: Path, clock: Callable[[], float] = time.time, **settings: Any
) -> Iterator[Dashboard]:
    """A dashboard on a thread, with these settings (`alerting=...`) over the tests' own,
    and its clock (a `tests.helpers.Clock` to move time by hand)."""
    app = create_app(
        Settings(data_dir=tmp_path / "data", sweep_interval=0.05, **settings), clock=clock
    )
    alerting = None if has_route(app, "/alerts") else AlertingStandIn([])
    pushgateway = None if has_route(app, "/api/v1/metrics") else PushgatewayStandIn()
    for stand_in in (alerting, pushgateway):
        if stand_in is not None:
            stand_in.install(app)
    with ThreadedServer(app) as server:
        yield Dashboard(server, alerting, pushgateway, tmp_path / "screenshots")


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    with serving(tmp_path) as served:
        yield served
