"""Fixtures of the dashboard tests: a batchgate on a thread for the browser, with a stand-in
for the Pushgateway API where the server does not have it."""

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
from tests.collector.dashboard.stand_ins import PushgatewayStandIn, has_route

__all__ = ["Dashboard", "browser", "dashboard", "serving"]


@dataclass
class Dashboard:
    server: ThreadedServer
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
    pushgateway = None if has_route(app, "/api/v1/metrics") else PushgatewayStandIn()
    if pushgateway is not None:
        pushgateway.install(app)
    with ThreadedServer(app) as server:
        yield Dashboard(server, pushgateway, tmp_path / "screenshots")


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    with serving(tmp_path) as served:
        yield served
