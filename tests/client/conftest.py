"""Fixtures for the client tests: a real collector, a tiny stand-in receiver, clean state.

Nothing here sleeps to wait for a state: `wait_until` polls with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import batchgate
from batchgate import Connection, client

WORKTREE = Path(__file__).resolve().parents[2]
IMPORT_ROOT = str(Path(batchgate.__file__).parent.parent)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str | Callable[[], str] = ""
) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds,
    saying `what` was awaited (a callable: called then, to describe the state at the end)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            awaited = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {awaited or predicate}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fast_connection(url: str, **overrides: Any) -> Connection:
    """A connection that retries quickly, so tests about outages finish in seconds."""
    settings: dict[str, Any] = {"retry_max_delay": 0.2, "flush_timeout": 3.0}
    settings.update(overrides)
    return Connection.resolve(url, **settings)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: this `batchgate` first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHGATE_")}
    env["PYTHONPATH"] = IMPORT_ROOT
    env.update(extra)
    return env


class Receiver:
    """A small real HTTP server standing in for the collector's POST /push.

    It records every push, answers 200 by default, or answers what `script` says next
    (a status and a JSON body), optionally after `delay` seconds.
    """

    def __init__(self, port: int = 0) -> None:
        self.pushes: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.script: deque[tuple[int, dict[str, Any]]] = deque()
        self.delay = 0.0
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)  # the slow collector under test, not a wait
                with receiver._lock:
                    receiver.requests += 1
                    status, answer = receiver.script.popleft() if receiver.script else (200, {})
                    if status == 200:
                        events = json.loads(body)
                        receiver.pushes.append(events if isinstance(events, list) else [events])
                        receiver.headers.append(dict(self.headers.items()))
                        answer = {"accepted": len(receiver.pushes[-1]), "duplicates": 0}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for push in self.pushes for event in push]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == kind]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def isolated_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No BATCHGATE_* from the outside, a private spool, and no sender left running after."""
    for name in list(os.environ):
        if name.startswith("BATCHGATE_"):
            monkeypatch.delenv(name)
    spool = tmp_path / "spool"
    monkeypatch.setenv("BATCHGATE_SPOOL_DIR", str(spool))
    yield spool
    client.shutdown(timeout=2.0)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


class Collector:
    """The real batchgate collector, run as a subprocess on a free port."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Collector:
        log = open(self.data_dir / "collector.log", "ab")  # noqa: SIM115 (owned by the process)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "batchgate",
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.data_dir),
            ],
            cwd=WORKTREE,
            env=subprocess_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._ready, timeout, "the collector to answer /-/ready")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"collector exited with {self.process.returncode}:\n"
                + (self.data_dir / "collector.log").read_text()
            )
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def run(self, run_id: str) -> dict[str, Any] | None:
        try:
            return get_json(f"{self.url}/runs/{run_id}")  # type: ignore[no-any-return]
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def wait_for_run(
        self, run_id: str, predicate: Callable[[dict[str, Any]], Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run is not None and predicate(run) else None

        return wait_until(check, timeout, f"run {run_id} to match")  # type: ignore[no-any-return]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    data = tmp_path / "collector-data"
    data.mkdir()
    server = Collector(data).start()
    yield server
    server.stop()


@pytest.fixture
def unused_url() -> str:
    """A URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """A URL that accepts TCP connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
