"""A real Prometheus (Debian's package) on a free loopback port, scraping given targets."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.helpers import free_port, need_program


class Prometheus:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def query(self, expression: str) -> Any:
        """The `data` of an instant query; raises on a query error."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        return answer["data"]

    def wait_for(self, expression: str, within: float = 60.0) -> list[Any]:
        """Poll until the query returns a non-empty vector."""
        deadline = time.monotonic() + within
        while True:
            result: list[Any] = self.query(expression)["result"]
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{expression} returned nothing within {within}s: "
                    f"{self.log.read_text()[-2000:]}"
                )
            time.sleep(0.2)


@contextlib.contextmanager
def prometheus(
    tmp_path: Path, targets: list[str], rule_files: list[Path] = ()
) -> Iterator[Prometheus]:  # type: ignore[assignment]
    binary = need_program("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(path) for path in rule_files],
                "scrape_configs": [
                    {
                        "job_name": "batchgate",
                        "honor_labels": True,
                        "static_configs": [{"targets": targets}],
                    }
                ],
            }
        )
    )
    log = tmp_path / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"prometheus did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(30)
