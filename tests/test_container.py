"""What the container files promise, checked without a Docker engine (none runs here): the
image's health check finds a server's readiness on the port and route prefix the
environment gives it, and the compose file publishes nothing beyond loopback and ships no
default Grafana password."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from tests.helpers import IMPORT_ROOT, REPO, free_port

COMPOSE = yaml.safe_load((REPO / "dashboards" / "docker-compose.yml").read_text())


def health_check() -> list[str]:
    """The HEALTHCHECK's command, as the Dockerfile gives it (exec form)."""
    text = (REPO / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])$", text, re.MULTILINE)
    assert match is not None, "no HEALTHCHECK CMD in exec form"
    command: list[str] = json.loads(match.group(1))
    return command


def test_the_health_check_follows_the_port_and_route_prefix(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": IMPORT_ROOT,
        "BATCHGATE_LISTEN": f"127.0.0.1:{port}",
        "BATCHGATE_ROUTE_PREFIX": "/monitor/",
        "BATCHGATE_DATA_DIR": str(tmp_path / "data"),
    }
    command = [sys.executable if part == "python" else part for part in health_check()]

    def healthy() -> bool:
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0

    assert not healthy()  # nothing listens yet
    server = subprocess.Popen(
        [sys.executable, "-m", "batchgate", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not healthy():
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.1)
        # It asked the prefixed path: the unprefixed one is not the server's.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/monitor/-/ready", timeout=5) as ok:
            assert ok.status == 200
    finally:
        server.terminate()
        server.wait(30)


def test_compose_publishes_every_port_on_loopback_only() -> None:
    for name, service in COMPOSE["services"].items():
        for published in service.get("ports", []):
            assert published.startswith("127.0.0.1:"), f"{name} publishes {published}"


def test_compose_gives_grafana_no_default_password() -> None:
    environment = COMPOSE["services"]["grafana"]["environment"]
    password = environment["GF_SECURITY_ADMIN_PASSWORD"]
    assert password == "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD}"


def test_the_image_installs_exactly_the_locked_versions(tmp_path: Path) -> None:
    """The Dockerfile builds its wheels under constraints/image.txt: pip, resolving the two
    distributions as the image's build does (from the package index), picks every
    dependency at its locked version and needs nothing the lock leaves out."""
    from packaging.utils import canonicalize_name

    lock = REPO / "constraints" / "image.txt"
    assert "--constraint constraints/image.txt" in (REPO / "Dockerfile").read_text()
    pinned = dict(
        line.split("==")
        for line in lock.read_text().splitlines()
        if line and not line.startswith("#")
    )
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), "--constraint", str(lock), "./client", "."],
        cwd=REPO, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    chosen: dict[str, str] = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert chosen.pop("batchgate") == chosen.pop("batchgate-client")
    assert chosen == pinned, "constraints/image.txt is stale: run .ci/lock-image"
