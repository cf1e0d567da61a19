"""Fixtures: a fresh GroupRegistry, and the real Pushgateway (Debian's binary) to compare with.

The real Pushgateway gets a listening socket already bound by the test (systemd socket
activation), so there is no port race and no waiting for it to start.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from batchgate.collector.pushgateway import GroupRegistry

PUSHGATEWAY = shutil.which("prometheus-pushgateway")
OWN_METRIC_PREFIXES = ("go_", "process_", "pushgateway_", "promhttp_")


@pytest.fixture
def registry() -> GroupRegistry:
    return GroupRegistry()


class RealPushgateway:
    """A running prometheus-pushgateway on loopback, spoken to with urllib."""

    def __init__(self) -> None:
        assert PUSHGATEWAY is not None
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        fd = self._socket.fileno()

        def hand_over_socket() -> None:
            os.dup2(fd, 3)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())

        self._process = subprocess.Popen(
            [
                PUSHGATEWAY,
                "--web.systemd-socket",
                "--persistence.file=",
                "--web.enable-admin-api",
                "--log.level=error",
            ],
            preexec_fn=hand_over_socket,
            pass_fds=(fd, 3),  # preexec_fn runs before close_fds: keep 3 open.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        request = urllib.request.Request(
            self.url + path,
            data=body if method in ("PUT", "POST") else None,
            method=method,
            headers=headers or {},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def push(
        self,
        method: str,
        path: str,
        body: bytes,
        content_type: str | None = None,
        gzipped: bool = False,
    ) -> tuple[int, str]:
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return self.request(method, "/metrics/" + path, body, headers)

    def metrics(self) -> str:
        """The scrape without the Pushgateway's own metrics."""
        _, text = self.request("GET", "/metrics")
        return without_own_metrics(text)

    def api_metrics(self) -> Any:
        _, text = self.request("GET", "/api/v1/metrics")
        return json.loads(text)["data"]

    def wipe(self) -> None:
        self.request("PUT", "/api/v1/admin/wipe")

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
        self._socket.close()


def without_own_metrics(text: str) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        name = line.split(" ")[2] if line.startswith("# ") else line
        if not name.startswith(OWN_METRIC_PREFIXES):
            lines.append(line)
    return "".join(lines)


@pytest.fixture(scope="session")
def real_pushgateway_process() -> Iterator[RealPushgateway]:
    if PUSHGATEWAY is None:
        pytest.skip("prometheus-pushgateway is not installed: no reference to compare with")
    gateway = RealPushgateway()
    yield gateway
    gateway.stop()


@pytest.fixture
def real_pushgateway(real_pushgateway_process: RealPushgateway) -> RealPushgateway:
    """The shared real Pushgateway, wiped for this test."""
    real_pushgateway_process.wipe()
    return real_pushgateway_process
