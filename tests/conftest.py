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
from tests.helpers import Client, Clock, Server, ServerProcess, free_port


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", sweep_interval=0.02)


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
