"""A real Prometheus (Debian's package) for tests: a temporary config and data directory, a
free loopback port, and its HTTP API."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import REPO, free_port, need_program

DASHBOARDS = REPO / "dashboards"


@dataclass
class Prometheus:
    url: str
    log: Path

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the `data` of a successful answer, else an AssertionError
        with Prometheus's error."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            body = json.loads(error.read())
        assert body["status"] == "success", f"{path} {params}: {body}"
        assert not body.get("warnings"), f"{path} {params}: {body['warnings']}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [data["result"]]

    def query_range(self, expr: str, seconds: float = 60.0) -> list[dict[str, Any]]:
        now = time.time()
        data = self.api("query_range", query=expr, start=str(now - seconds), end=str(now), step="1")
        result: list[dict[str, Any]] = data["result"]
        return result


@contextlib.contextmanager
def running_prometheus(directory: Path, target: str) -> Iterator[Prometheus]:
    """Prometheus scraping `target` (host:port) every second with dashboards/prometheus's
    scrape configuration and alerting rules, evaluated every second."""
    binary = need_program("prometheus")
    config = yaml.safe_load((DASHBOARDS / "prometheus" / "scrape.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DASHBOARDS / "prometheus" / name) for name in config["rule_files"]]
    (scrape,) = config["scrape_configs"]
    scrape.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [target]}])
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log = directory / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, f"--config.file={config_file}", f"--storage.tsdb.path={directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    prometheus = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"Prometheus not ready: {log.read_text()}"
                time.sleep(0.1)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
