"""Shared fixtures: a real batchgate app on a real port, real SQLite in tmp_path, and a
clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batchgate.collector.http.app import create_app
from batchgate.collector.settings import Settings
from tests.helpers import REPO, Client, Clock, Server, ServerProcess, free_port

BOTH_PATHS = frozenset({
    "tests/collector/core/test_push_properties.py",
    "tests/collector/core/test_push_validation.py",
    "tests/collector/http/test_auth.py",
    "tests/collector/observability/test_metrics.py",
    "tests/collector/otlp/test_otlp_aggregating.py",
    "tests/collector/otlp/test_otlp_groups_live_as_groups.py",
    "tests/collector/otlp/test_otlp_http.py",
    "tests/collector/otlp/test_sdk_exports.py",
    "tests/collector/pushgateway/test_pushgateway_clients.py",
    "tests/collector/pushgateway/test_pushgateway_prometheus.py",
    "tests/collector/pushgateway/test_pushgateway_server.py",
    "tests/collector/test_job_names_as_people_write_them.py",
    "tests/collector/test_limits.py",
    "tests/collector/test_push_lifecycle.py",
})  # fmt: skip
"""The tests of the push routes (POST /push, the Pushgateway's PUT and POST, OTLP's
POST /v1/metrics) through a server: each test that takes `settings` runs twice, through the
front door and with `http.fast_path: false` (aiohttp alone)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fast_path" in metafunc.fixturenames and (
        metafunc.definition.path.relative_to(REPO).as_posix() in BOTH_PATHS
    ):
        metafunc.parametrize(
            "fast_path", [True, False], ids=["fast-path", "aiohttp-only"], indirect=True
        )


@pytest.fixture
def fast_path(request: pytest.FixtureRequest) -> bool:
    """`http.fast_path` in `settings`: on, and both ways in the files of BOTH_PATHS."""
    return bool(getattr(request, "param", True))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path, fast_path: bool) -> Settings:
    return Settings(data_dir=tmp_path / "data", sweep_interval=0.02, http_fast_path=fast_path)


@pytest.fixture
def start(
    aiohttp_client: Any, settings: Settings, clock: Clock
) -> Callable[..., Awaitable[Client]]:
    """Start batchgate on a real port. Call it again after `await client.close()` to restart
    on the same data directory; keyword arguments override settings."""

    async def starter(**overrides: Any) -> Client:
        app = create_app(replace(settings, **overrides), clock=clock)
        return await aiohttp_client(Server(app))  # type: ignore[no-any-return]

    return starter


@pytest.fixture
async def client(start: Callable[..., Awaitable[Client]]) -> Client:
    return await start()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Launch `python -m batchgate serve` subprocesses; all are killed at the end."""
    started: list[ServerProcess] = []

    def launch(
        *extra: str,
        data_dir: Path | None = None,
        port: int | None = None,
        new_session: bool = False,
    ) -> ServerProcess:
        server = ServerProcess(
            data_dir or tmp_path / "data", port or free_port(), *extra, new_session=new_session
        )
        started.append(server.start())
        return server

    yield launch
    for server in started:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
