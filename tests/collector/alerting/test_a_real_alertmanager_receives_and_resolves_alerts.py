"""A real Alertmanager (Debian's prometheus-alertmanager, on loopback): batchgate's alert
appears in its GET /api/v2/alerts with its labels and fingerprint, and disappears once resolved."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.alerting.conftest import StartWith
from tests.helpers import Clock, free_port, get, need_program, push, until

CONFIG = """
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = need_program("prometheus-alertmanager")
    port = free_port()
    (tmp_path / "alertmanager.yml").write_text(CONFIG)
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'alertmanager.yml'}",
         f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((tmp_path / "alertmanager.log").read_text()) from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


async def test_the_alert_appears_in_alertmanager_and_goes_when_resolved(
    start_with: StartWith, alertmanager: str, clock: Clock
) -> None:
    clock.now = time.time()  # Alertmanager judges startsAt and endsAt by its own clock
    receivers = f'  - {{name: am, alertmanager: {{url: "{alertmanager}"}}}}\n'
    client = await start_with(receivers=receivers)
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "fail",
                        "message": "tape jammed"})  # fmt: skip

    async def arrived() -> list[dict[str, Any]]:
        return await asyncio.to_thread(_alerts, alertmanager)

    (received,) = await until(arrived, 10)
    assert received["labels"] == {
        "alertname": "JobFailed",
        "host": "db1",
        "job": "backup",
        "severity": "warning",
    }
    assert received["annotations"]["summary"] == "backup failed"
    assert received["status"]["state"] == "active"
    assert received["generatorURL"] == "http://batchgate.test:9091/ui/jobs/backup"
    (ours,) = (await get(client, "/alerts"))["alerts"]
    assert received["fingerprint"] == ours["fingerprint"]

    # Resolved now: Alertmanager takes an end in its past as resolved (one in its future only
    # as a later end, which it ignores when the alert was due to end later still).
    clock.now = time.time()
    await push(client, {"job": "backup", "labels": {"host": "db1"}, "event": "success"})

    async def gone() -> bool:
        return await asyncio.to_thread(_alerts, alertmanager) == []

    await until(gone, 10)
