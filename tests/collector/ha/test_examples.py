"""dashboards/ha: the docker-compose file, its haproxy.cfg and the Kubernetes example parse,
haproxy accepts its configuration, and each batchgate node's command and environment in the
compose file are valid settings for `batchgate serve` (--check-config). No Docker engine or
Kubernetes runs here, so the images themselves are not started."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import IMPORT_ROOT, REPO, need_program

HA = REPO / "dashboards" / "ha"
NODES = ("batchgate-a", "batchgate-b")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((HA / "docker-compose.yml").read_text())
    return loaded


def kubernetes() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all((HA / "kubernetes.yaml").read_text())
    return {document["kind"]: document for document in documents}


def interpolated(value: str) -> str:
    """Compose's `${NAME:?message}` / `${NAME}` with a stand-in value, as `docker compose`
    would substitute them from the environment."""
    return re.sub(r"\$\{([A-Z_]+)[^}]*\}", lambda match: f"test-{match[1].lower()}", value)


def test_the_compose_file_publishes_on_loopback_only_and_mounts_what_exists() -> None:
    services = compose()["services"]
    assert set(services) == {"db", *NODES, "haproxy"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (HA / source).exists(), f"{name} mounts missing {source}"
    for node in NODES:
        assert (HA / services[node]["build"] / "Dockerfile").exists()


@pytest.mark.parametrize("node", NODES)
def test_each_node_command_and_environment_are_valid(node: str, tmp_path: Path) -> None:
    service = compose()["services"][node]
    environment = {key: interpolated(str(value)) for key, value in service["environment"].items()}
    assert environment["BATCHGATE_HA_NODE_NAME"] == node
    assert environment["BATCHGATE_STORE_URL"].startswith("postgresql://")
    # The advertised URL is where the node is published on this machine.
    published = service["ports"][0].split(":")[1]
    assert environment["BATCHGATE_HA_ADVERTISE_URL"] == f"http://localhost:{published}"
    # As the image runs it: `batchgate` (the entrypoint) + the command, its ENV (data_dir in
    # /data, here a directory of the test's) under the service's environment, nothing else.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": IMPORT_ROOT,
           "BATCHGATE_DATA_DIR": str(tmp_path), **environment}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "batchgate", *service["command"], "--check-config"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "settings are valid" in result.stdout


def test_the_nodes_differ_only_in_name_port_and_advertised_url() -> None:
    services = compose()["services"]
    a, b = (dict(services[node]["environment"]) for node in NODES)
    for environment in (a, b):
        del environment["BATCHGATE_HA_NODE_NAME"], environment["BATCHGATE_HA_ADVERTISE_URL"]
    assert a == b


def test_haproxy_accepts_its_configuration_and_checks_the_leader() -> None:
    haproxy = need_program("haproxy")
    result = subprocess.run([haproxy, "-c", "-f", str(HA / "haproxy.cfg")],
                            capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config = (HA / "haproxy.cfg").read_text()
    assert "option httpchk GET /-/ready" in config
    assert "http-check expect status 200" in config
    # Its servers are the compose file's nodes, on the port they listen on.
    servers = re.findall(r"^\s*server (\S+) (\S+)", config, re.MULTILINE)
    assert servers == [(node, f"{node}:9091") for node in NODES]
    mount = compose()["services"]["haproxy"]["volumes"][0]
    assert mount.startswith("./haproxy.cfg:")


def test_the_kubernetes_example_probes_the_leader_and_keeps_a_standby() -> None:
    documents = kubernetes()
    assert set(documents) == {"Deployment", "Service", "PodDisruptionBudget"}
    deployment = documents["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert documents["Service"]["spec"]["selector"] == labels
    assert documents["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    env = {variable["name"] for variable in container["env"]}
    assert {"BATCHGATE_STORE_URL", "BATCHGATE_HA_NODE_NAME", "BATCHGATE_HA_ADVERTISE_URL"} <= env


def test_the_kubernetes_environment_is_valid(tmp_path: Path) -> None:
    """The container's env, as the kubelet resolves it (the Secret's URL, the pod's name and
    IP in `$(...)`), passes `batchgate serve --check-config`."""
    (container,) = kubernetes()["Deployment"]["spec"]["template"]["spec"]["containers"]
    given = {
        "POD_NAME": "batchgate-7d9f-abcde",
        "POD_IP": "10.1.2.3",
        "BATCHGATE_STORE_URL": "postgresql://batchgate@postgres.example:5432/batchgate",
        "PGPASSWORD": "test-password",
    }
    environment: dict[str, str] = {}
    for variable in container["env"]:
        value = given[variable["name"]] if "valueFrom" in variable else str(variable["value"])
        environment[variable["name"]] = re.sub(
            r"\$\(([A-Z_]+)\)", lambda match: environment[match[1]], value
        )
    assert environment["BATCHGATE_HA_NODE_NAME"] == given["POD_NAME"]
    assert environment["BATCHGATE_HA_ADVERTISE_URL"] == "http://10.1.2.3:9091"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": IMPORT_ROOT,
           "BATCHGATE_DATA_DIR": str(tmp_path), **environment}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "batchgate", *container["args"], "--check-config"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "listen :9091" in result.stdout
