"""What every benchmark here shares: starting servers on loopback, driving load with wrk,
and reading wrk's figures. Nothing in the project imports this; only bench/ scripts do."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        sys.exit(f"{program} is missing: apt-get install {package}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def process_and_children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(child) for child in (task / "children").read_text().split())
    return [pid, *children]


def resident_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        total += int(match.group(1)) * 1024 if match else 0
    return total


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        """The server's process and its children (batchgate's SQLite writer process)."""
        return process_and_children(self.process.pid)

    def rss_bytes(self) -> int:
        """Resident memory of the server's processes together."""
        return resident_bytes(self.pids())

    def cpu_seconds(self) -> float:
        """CPU time (user and system) of the server's processes together."""
        total = 0.0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


@contextlib.contextmanager
def batchgate(*extra: str) -> Iterator[Server]:
    """A batchgate server with a fresh data directory, on its default settings."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="batchgate-bench-") as data:
        process = subprocess.Popen(
            [sys.executable, "-m", "batchgate", "serve", "--listen", f"127.0.0.1:{port}",
             "--data-dir", data, *extra],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # A PYTHONPATH given to the bench comes first: `PYTHONPATH=TREE python bench/...`
            # measures another checkout (a tree of links, as .ci/dev-tree makes one).
            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                path for path in (os.environ.get("PYTHONPATH"), str(REPO)) if path
            )},
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/-/ready")
            yield Server("batchgate", f"http://127.0.0.1:{port}", process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


@contextlib.contextmanager
def pushgateway(*extra: str, persistence: str = "") -> Iterator[Server]:
    """Debian's prometheus-pushgateway; no persistence unless a file is given (Debian's
    default file would carry old state into the run). It writes that file when stopped."""
    binary = need("prometheus-pushgateway", "prometheus-pushgateway")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={persistence}",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready")
        yield Server("pushgateway", f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        process.wait(30)


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def wrk(
    url: str,
    script: str,
    seconds: int = 10,
    connections: int = 16,
    env: dict[str, str] | None = None,
) -> Load:
    """Drive `url` with bench/wrk/<script>.lua from one wrk thread; the script reports
    non-2xx answers on its last line, which count as errors."""
    binary = need("wrk", "wrk")
    result = subprocess.run(
        [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(WRK_SCRIPTS / f"{script}.lua"), url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(rate, _percentile(out, "50"), _percentile(out, "99"), errors, total)


def _percentile(out: str, which: str) -> float:
    match = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def post_json(url: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def timed_get(url: str, repeats: int = 20) -> tuple[float, float]:
    """Median and worst wall time (ms) of GET url, one request at a time."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[-1]


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"
