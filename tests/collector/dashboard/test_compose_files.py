"""dashboards/docker-compose.yml: everything it mounts exists, and the configuration it
gives each service is valid for that service (promtool, amtool, batchgate itself). No
Docker engine runs here, so the images themselves are not started."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.collector.test_cli import batchgate
from tests.helpers import REPO, need_program

DASHBOARDS = REPO / "dashboards"
COMPOSE = yaml.safe_load((DASHBOARDS / "docker-compose.yml").read_text())


def test_every_mounted_file_exists() -> None:
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DASHBOARDS / source).exists(), f"{name} mounts missing {source}"
    assert (DASHBOARDS / COMPOSE["services"]["batchgate"]["build"] / "Dockerfile").exists()


def test_prometheus_config_and_its_rules_are_valid(tmp_path: Path) -> None:
    promtool = need_program("promtool")
    # As mounted: prometheus.yml with alerts.yml beside it.
    shutil.copy(DASHBOARDS / "compose" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(DASHBOARDS / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_is_valid() -> None:
    amtool = need_program("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(DASHBOARDS / "compose" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_batchgate_config_is_valid() -> None:
    result = batchgate("serve", "--config", str(DASHBOARDS / "compose" / "batchgate.yml"),
                       "--check-config")  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_grafana_is_provisioned_with_the_shipped_dashboard() -> None:
    grafana = COMPOSE["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    provider = yaml.safe_load(
        (DASHBOARDS / "compose/grafana/provisioning/dashboards/batchgate.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert mounts["./grafana"] == path
    assert (DASHBOARDS / "grafana" / "batchgate.json").exists()
