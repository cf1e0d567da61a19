"""Helpers for tests: a hand-moved clock, pushing and querying with every answer checked
against the OpenAPI document, polling with a deadline, and a real server subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Self

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner
from yarl import URL

import batchgate
from batchgate.collector.http.front_door import FrontDoorRunner, FrontDoorServer, FrontDoorSite
from batchgate.collector.http.keys import ALERTING, INGEST, SETTINGS
from bench.harness import process_and_children, resident_bytes
from tests.openapi_check import check_response

REPO = Path(__file__).resolve().parent.parent
IMPORT_ROOT = str(Path(batchgate.__file__).parent.parent)
"""Where `batchgate` is imported from (build/dev in a checkout, site-packages when installed):
what a child Python needs on its path."""


class Clock:
    """A clock the test moves by hand: time is passed in, never slept through."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Client = TestClient[web.Request, web.Application]


class Server(TestServer):
    """aiohttp's test server, running the app as `batchgate serve` does: on the front door's
    site (pushes answered by `batchgate.collector.http.front_door`, the rest by aiohttp),
    or, when `fast_path` or the app's settings (`http.fast_path`) turn it off, on
    aiohttp's own. Keyword arguments are the runner's (`keepalive_timeout=...`)."""

    def __init__(
        self, app: web.Application, *, fast_path: bool | None = None, **runner_arguments: Any
    ) -> None:
        super().__init__(app)
        self.fast_path: bool = app[SETTINGS].http_fast_path if fast_path is None else fast_path
        self.front_door: FrontDoorServer | None = None
        """The front door's connections, answers and counts, once started on its site."""
        self._runner_arguments = runner_arguments

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return FrontDoorRunner(self.app, **kwargs, **self._runner_arguments)

    async def start_server(self, loop: Any = None, **kwargs: Any) -> None:
        if not self.fast_path:
            await super().start_server(loop=loop, **kwargs)
            return
        if self.runner:
            return
        # TestServer's steps, with the front door's site in place of aiohttp's SockSite.
        ssl_context = kwargs.pop("ssl", None)
        runner = await self._make_runner(handler_cancellation=True, **kwargs)
        self.runner = runner
        await runner.setup()
        assert isinstance(runner, FrontDoorRunner)
        site = FrontDoorSite(runner, self.host, self.port or 0, ssl_context=ssl_context)
        await site.start()
        self.front_door = site.front_door
        self.port = site.port
        self.scheme = self.scheme or ("https" if ssl_context else "http")

    def make_url(self, path: Any) -> URL:
        if not self.fast_path:
            return super().make_url(path)
        url = URL(path)
        assert not url.absolute
        return URL(f"{self.scheme}://{self.host}:{self.port}").join(url)


async def push(client: Client, body: Any, expect: int = 200) -> Any:
    """POST /push, check the answer against the OpenAPI document, return its JSON."""
    response = await client.post("/push", json=body)
    return await checked(response, expect)


async def checked(response: ClientResponse, expect: int = 200) -> Any:
    """Assert the status, validate the JSON body against the OpenAPI document, return it."""
    body = await response.json()
    assert response.status == expect, body
    check_response(response.method, response.url.path, response.status, body)
    return body


async def get(client: Client, path: str, expect: int = 200, **params: Any) -> Any:
    """GET with query parameters, checked like `checked`."""
    return await checked(await client.get(path, params=params), expect)


async def until(condition: Callable[[], Awaitable[Any]], within: float = 5.0) -> Any:
    """Poll an async condition until it is truthy, failing after `within` seconds. For what
    happens as soon as it can (a delivery, a reply), never for what a timer does: trigger
    periodic work instead (`evaluate_rules`, `sweep`)."""
    deadline = time.monotonic() + within
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`python -m batchgate serve` as a real subprocess, for crash and restart tests."""

    def __init__(self, data_dir: Path, port: int, *extra: str, new_session: bool = False) -> None:
        self.data_dir = data_dir
        self.new_session = new_session
        """Start it as the leader of a process group of its own (signalled as a group)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{port}.log"

    def start(self, ssl_context: ssl.SSLContext | None = None) -> ServerProcess:
        env = {**os.environ, "PYTHONPATH": IMPORT_ROOT}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "batchgate", "serve",
                    "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=self.new_session,
            )  # fmt: skip
        self.wait_ready(ssl_context=ssl_context)
        return self

    def wait_ready(self, timeout: float = 20.0, ssl_context: ssl.SSLContext | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(
                    f"{self.url}/-/ready", timeout=1, context=ssl_context
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"server not ready in {timeout}s: {self.log.read_text()}")

    def pids(self) -> list[int]:
        """The server's process and its children (the SQLite writer process)."""
        assert self.process is not None
        return process_and_children(self.process.pid)

    def rss_bytes(self) -> int:
        """The resident memory of the server's processes together (bench/soak.py reads it)."""
        return resident_bytes(self.pids())

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)


def need_program(name: str) -> str:
    """The path of an external program a test runs; skip without it locally, fail under CI."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (`make install` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip it")
        pytest.skip(reason)
    return path


class PushingThreads:
    """Worker threads each calling `_push(worker)` until stopped: a load that runs while a
    test kills, pauses or restarts something (`with ... as load:`, or `stop()`)."""

    def __init__(self, workers: int) -> None:
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._push, args=(w,)) for w in range(workers)]

    def _push(self, worker: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


class SustainedPushes(PushingThreads):
    """Threads pushing a run (start and success) per request until stopped; remembers every
    run id whose push was answered 200, for checking what survived afterwards."""

    def __init__(self, url: str, workers: int = 4) -> None:
        self.url = url
        self.acknowledged: list[str] = []
        super().__init__(workers)

    def wait_for(self, count: int, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while len(self.acknowledged) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acknowledged)} pushes in {within}s")
            time.sleep(0.01)

    def _push(self, worker: int) -> None:
        import json

        number = 0
        while not self._stop.is_set():
            run_id = f"w{worker}-{number}"
            body = [
                {"job": f"sustained_{worker}", "event": "start", "run_id": run_id},
                {"job": f"sustained_{worker}", "event": "success", "run_id": run_id},
            ]
            request = urllib.request.Request(
                f"{self.url}/push", json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        self.acknowledged.append(run_id)
            except OSError:
                pass
            number += 1

    def missing_from(self, url: str) -> list[str]:
        """The acknowledged runs a server at `url` does not have as succeeded."""
        import json

        missing = []
        for run_id in self.acknowledged:
            try:
                with urllib.request.urlopen(f"{url}/runs/{run_id}", timeout=5) as response:
                    if json.loads(response.read())["status"] != "succeeded":
                        missing.append(run_id)
            except OSError:
                missing.append(run_id)
        return missing


async def evaluate_rules(client: Client) -> None:
    """The rules' periodic pass, now, over every job: what its timer would do next."""
    await client.app[ALERTING].evaluate_all(full=True)


def sweep(client: Client) -> int:
    """The periodic sweep, now: runs gone silent are marked lost, stale groups expire."""
    return client.app[INGEST].sweep()
