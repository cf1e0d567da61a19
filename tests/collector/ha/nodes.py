"""Real batchgate nodes on one real PostgreSQL, for the high-availability tests: each node
is `python -m batchgate serve` in a process of its own, on a free loopback port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers import IMPORT_ROOT, REPO, PushingThreads, free_port

LEASE = 1.0
"""Seconds of lease in these tests (the shortest ha.lease allows): takeovers in seconds."""


class HaNode:
    """One node: started, signalled, asked what it is."""

    def __init__(
        self, root: Path, name: str, store_url: str, lease: float = LEASE, *extra: str
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = root / name
        self.log = root / f"{name}.log"
        self.command = [
            sys.executable, "-m", "batchgate", "serve",
            "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
            "--store-url", store_url, "--ha.lease", f"{lease:g}",
            "--ha.node-name", name, "--ha.advertise-url", self.url, *extra,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> HaNode:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                env={"PYTHONPATH": IMPORT_ROOT, "PATH": "/usr/bin:/bin"},
            )  # fmt: skip
        wait_until(self._listening, 20, f"{self.name} listening", self)
        return self

    def story(self, characters: int = 4000) -> str:
        """The end of the node's log without its access lines (its requests, hundreds of
        them under a load of pushes), and the last of those: what it said of its role,
        its store and its errors."""
        lines = self.log.read_text().splitlines()
        said = [line for line in lines if "logger=batchgate.access" not in line]
        requests = [line for line in lines if "logger=batchgate.access" in line]
        return "\n".join(said)[-characters:] + "\n(last request) " + (requests[-1:] or [""])[0]

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.story()}")
        return self.status("/-/healthy") == 200

    def status(self, path: str, timeout: float = 2.0) -> int | None:
        """The status of a GET, or None when nothing answered."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None

    def get(self, path: str) -> tuple[int, Any, dict[str, str]]:
        return request("GET", self.url + path)

    def role(self) -> str | None:
        try:
            _, body, _ = self.get("/health")
        except OSError:
            return None
        return str(body["role"]) if isinstance(body, dict) and "role" in body else None

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def request(
    method: str, url: str, body: Any = None, timeout: float = 3.0, data: bytes | None = None
) -> tuple[int, Any, dict[str, str]]:
    """(status, decoded JSON body or text, headers); raises OSError when nothing answered."""
    if body is not None:
        data = json.dumps(body).encode()
    sent = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), dict(error.headers)
    try:
        return int(status), json.loads(raw), headers
    except ValueError:
        return int(status), raw.decode(errors="replace"), headers


def wait_until(check: Any, within: float, what: str, *nodes: HaNode) -> float:
    """Seconds until `check()` is true, polling; AssertionError (with the nodes' logs)
    after `within` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            logs = "\n".join(f"--- {n.name}\n{n.story()}" for n in nodes)
            raise AssertionError(f"not {what} within {within}s\n{logs}")
        time.sleep(0.05)
    return time.monotonic() - started


class Pushes(PushingThreads):
    """Threads pushing runs (start and success in one push) to whichever node takes them,
    as a client given every node's URL would: remembers each run acknowledged 2xx, and by
    whom."""

    def __init__(self, urls: list[str], workers: int = 2, timeout: float = 2.0) -> None:
        self.urls = urls
        self.timeout = timeout
        self.acknowledged: dict[str, str] = {}
        self.refused = 0
        super().__init__(workers)

    def count(self) -> int:
        return len(self.acknowledged)

    def _push(self, worker: int) -> None:
        number = 0
        first = 0  # as the SDK: start with the node that took the last push
        while not self._stop.is_set():
            run_id = f"ha-{worker}-{number}"
            body = [
                {"job": f"ha_{worker}", "event": "start", "run_id": run_id},
                {"job": f"ha_{worker}", "event": "success", "run_id": run_id},
            ]
            for index in [*range(first, len(self.urls)), *range(first)]:
                url = self.urls[index]
                try:
                    status, _, _ = request("POST", f"{url}/push", body, self.timeout)
                except OSError:
                    continue
                if 200 <= status < 300:
                    self.acknowledged[run_id] = url
                    first = index
                    break
                self.refused += 1
            else:
                time.sleep(0.05)
            number += 1

    def missing_from(self, url: str) -> list[str]:
        """The acknowledged runs that the node at `url` does not have as succeeded."""
        missing = []
        for run_id in list(self.acknowledged):
            status, body, _ = request("GET", f"{url}/runs/{run_id}")
            if status != 200 or body.get("status") != "succeeded":
                missing.append(run_id)
        return missing
