"""POST /-/reload and SIGHUP read the rules and the config file's alerting keys again; an
invalid file keeps the rules in effect, and /-/reload, /metrics and /health say so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from batchgate.collector.settings import load_settings
from tests.helpers import REPO, Client, ServerProcess, checked, get, push, until

GOOD = "rules:\n  - {name: JobFailed, kind: failure}\n"
RENAMED = "rules:\n  - {name: JobBroken, kind: failure, severity: critical}\n"
BAD = "rules:\n  - {name: JobFailed, kind: failure}\n  - {name: Slow, kind: duration, above: 10}\n"

DECLARED = 3
"""The rules of schedules declared by the jobs, in effect beside every rules file."""


def _config(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "rules.yaml").write_text(rules)
    config = tmp_path / "batchgate.yaml"
    config.write_text("rules_files: [rules.yaml]\nevaluation_interval: 50ms\n")
    return config


async def _metric(client: Client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


async def _firing(client: Client) -> list[str]:
    alerts = (await get(client, "/alerts", state="firing"))["alerts"]
    return [alert["alertname"] for alert in alerts]


async def test_reload_swaps_rules_and_keeps_them_when_the_new_file_is_invalid(
    start: Callable[..., Awaitable[Client]], tmp_path: Path
) -> None:
    config = _config(tmp_path, GOOD)
    settings = load_settings({"config": str(config)}, {})
    client = await start(config_file=config, alerting=settings.alerting)
    await push(client, {"job": "backup", "event": "fail"})
    assert await _firing(client) == ["JobFailed"]

    (tmp_path / "rules.yaml").write_text(RENAMED)
    answer = await checked(await client.post("/-/reload"))
    assert answer == {
        "status": "success",
        "rules": 1 + DECLARED,
        "rules_files": [str(tmp_path / "rules.yaml")],
        "receivers": [],
    }

    async def renamed() -> bool:
        return await _firing(client) == ["JobBroken"]

    await until(renamed)

    (tmp_path / "rules.yaml").write_text(BAD)
    failed = await checked(await client.post("/-/reload"), 400)
    assert failed["details"] == [
        {
            "field": f"{tmp_path / 'rules.yaml'}:3",
            "reason": "above: '10' needs a unit, e.g. 10s or 10m",
        }
    ]
    assert await _metric(client, "batchgate_rules_last_reload_successful") == 0
    health = await get(client, "/health")
    assert health["status"] == "degraded"
    (reason,) = health["reasons"]
    assert reason["check"] == "rules"
    assert "needs a unit" in reason["reason"]
    assert health["alerting"]["last_reload_successful"] is False
    assert await _firing(client) == ["JobBroken"], "the rules in effect stay"
    assert await _metric(client, "batchgate_rules") == 1 + DECLARED

    (tmp_path / "rules.yaml").write_text(GOOD)
    await checked(await client.post("/-/reload"))
    assert await _metric(client, "batchgate_rules_last_reload_successful") == 1
    assert (await get(client, "/health"))["status"] == "healthy"


def _scrape(server: ServerProcess) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("batchgate_rules")
    }


def _get(server: ServerProcess, path: str) -> Any:
    with urllib.request.urlopen(f"{server.url}{path}", timeout=5) as response:
        return json.loads(response.read())


async def test_sighup_reloads_a_running_server(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    config = _config(tmp_path, GOOD)
    extra = tmp_path / "extra.yaml"
    extra.write_text("rules:\n  - {name: TooLong, kind: max_runtime, above: 1h}\n")
    server = server_process("--config", str(config), "--rules", str(extra))
    assert _scrape(server)["batchgate_rules"] == 2 + DECLARED
    assert server.process is not None

    (tmp_path / "rules.yaml").write_text(BAD)
    server.process.send_signal(signal.SIGHUP)

    async def failed() -> bool:
        return _scrape(server)["batchgate_rules_last_reload_successful"] == 0

    await until(failed)
    assert _get(server, "/health")["reasons"][0]["check"] == "rules"

    (tmp_path / "rules.yaml").write_text(RENAMED)
    server.process.send_signal(signal.SIGHUP)

    async def reloaded() -> bool:
        return _scrape(server)["batchgate_rules_last_reload_successful"] == 1

    await until(reloaded)
    assert _scrape(server)["batchgate_rules"] == 2 + DECLARED
    assert server.stop() == 0
    assert f"loaded {2 + DECLARED} rules" in server.log.read_text()


def test_invalid_rules_stop_the_server_at_start_with_every_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD + "  - {name: X, kind: nope}\n")
    done = subprocess.run(
        [sys.executable, "-m", "batchgate", "serve", "--rules", str(tmp_path / "bad.yaml"),
         "--data-dir", str(tmp_path / "data"), "--check-config"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("bad.yaml:3: above: '10' needs a unit, e.g. 10s or 10m")
    assert "bad.yaml:4:" in lines[1]
