"""The two distributions as a user gets them: both wheels install the one package
`batchgate` and nothing else at the top; the client's wheel alone, in a fresh environment,
monitors a job against a real server with the standard library only; one version
throughout, which `batchgate --version` and /metrics say.

The wheels are built from what the Dockerfile's build stage copies, as it builds them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import batchgate
from tests.client.conftest import Collector, wait_until
from tests.helpers import REPO

DOCKERFILE = REPO / "Dockerfile"
SERVER = tomllib.loads((REPO / "pyproject.toml").read_text())
CLIENT = tomllib.loads((REPO / "client" / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Wheels:
    client: Path
    server: Path


def build_stage_copies() -> list[str]:
    """What the Dockerfile's build stage copies from the repository."""
    build_stage = DOCKERFILE.read_text().split("\nFROM ")[1]
    copied: list[str] = []
    for line in build_stage.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied += line.split()[1:-1]
    return copied


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """Both wheels, built from a copy of what the Dockerfile copies (without build isolation:
    the dev extras bring setuptools>=77, so nothing is downloaded)."""
    source = tmp_path_factory.mktemp("source")
    for name in build_stage_copies():
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheels")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "--quiet", "--wheel-dir", str(out), "./client", "."],
        cwd=source,
        check=True,
        timeout=300,
    )
    (client,) = out.glob("batchgate_client-*.whl")
    (server,) = out.glob("batchgate-*.whl")
    return Wheels(client, server)


def recorded_files(wheel: Path) -> list[str]:
    """The files the wheel installs, as its RECORD lists them."""
    with zipfile.ZipFile(wheel) as archive:
        (record,) = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
        rows = csv.reader(io.TextIOWrapper(archive.open(record), encoding="utf-8"))
        return [row[0] for row in rows]


def metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        return archive.read(name).decode()


def test_the_dockerfile_builds_both_wheels_from_what_it_copies() -> None:
    assert set(build_stage_copies()) >= {"pyproject.toml", "client", "collector", "rules"}
    assert re.search(r"^RUN pip wheel .* \./client \.$", DOCKERFILE.read_text(), re.MULTILINE)


def test_each_wheel_installs_nothing_at_the_top_but_batchgate(wheels: Wheels) -> None:
    for wheel in (wheels.client, wheels.server):
        tops = {path.split("/")[0] for path in recorded_files(wheel)}
        assert {top for top in tops if not top.endswith(".dist-info")} == {"batchgate"}, wheel


def test_the_client_wheel_holds_the_package_and_the_sdk_and_the_server_the_rest(
    wheels: Wheels,
) -> None:
    client = set(recorded_files(wheels.client))
    server = set(recorded_files(wheels.server))
    assert {"batchgate/__init__.py", "batchgate/__main__.py", "batchgate/client/job.py"} <= client
    assert not any(path.startswith(("batchgate/collector/", "batchgate/rules/")) for path in client)
    assert {
        "batchgate/collector/http/app.py",
        "batchgate/collector/http/openapi.yaml",
        "batchgate/collector/demo/rules.yaml",
        "batchgate/rules/__init__.py",
    } <= server
    assert any(path.startswith("batchgate/collector/http/web/templates/") for path in server)
    # A file in both would be overwritten by the second install and removed with either.
    assert {path for path in client & server if ".dist-info/" not in path} == set()


def test_the_server_wheel_depends_on_the_client_of_its_own_version(wheels: Wheels) -> None:
    version = SERVER["project"]["version"]
    assert f"Requires-Dist: batchgate-client=={version}" in metadata(wheels.server)
    assert "Requires-Dist" not in metadata(wheels.client)


# -- the server as the wheels install it ----------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """A process's environment with no BATCHGATE_* or PYTHON* setting from outside."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BATCHGATE_", "PYTHON"))
    }
    env.update(extra)
    return env


class InstalledServer(Collector):
    """`batchgate serve` from the two wheels, installed into `site` (their dependencies are
    this environment's), run away from the repository: there its top-level folders
    (`rules/`, ...) would be importable under their own names and hide a stale import."""

    def __init__(self, data_dir: Path, site: Path) -> None:
        super().__init__(data_dir)
        self.site = site

    def start(self, timeout: float = 20.0) -> InstalledServer:
        log = open(self.data_dir / "collector.log", "ab")  # noqa: SIM115 (owned by the process)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "batchgate", "serve",
             "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
            cwd=self.data_dir,
            env=clean_env(PYTHONPATH=str(self.site)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_until(self._ready, timeout, "the installed server to answer /-/ready")
        return self


@pytest.fixture(scope="module")
def both_installed(wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both wheels installed into a folder of their own, as pip installs them."""
    site = tmp_path_factory.mktemp("both-installed")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(site), str(wheels.client), str(wheels.server)],
        check=True,
        timeout=120,
    )  # fmt: skip
    return site


@pytest.fixture(scope="module")
def server(both_installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    installed = InstalledServer(tmp_path_factory.mktemp("server-data"), both_installed).start()
    yield installed
    installed.stop()


WHERE_FROM = """
import json
import batchgate, batchgate.client, batchgate.collector.http.app, batchgate.rules
print(json.dumps([module.__file__ for module in (batchgate, batchgate.client,
                  batchgate.collector.http.app, batchgate.rules)]))
"""


def test_the_installed_server_runs_from_the_wheels(both_installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WHERE_FROM],
        env=clean_env(PYTHONPATH=str(both_installed)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert all(path.startswith(f"{both_installed}/") for path in json.loads(result.stdout))


def test_the_installed_server_says_its_version(both_installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "batchgate", "--version"],
        env=clean_env(PYTHONPATH=str(both_installed)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"batchgate {batchgate.__version__}\n"


def test_its_metrics_carry_the_version_in_build_info(server: Collector) -> None:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    (line,) = [line for line in text.splitlines() if line.startswith("batchgate_build_info{")]
    assert f'version="{batchgate.__version__}"' in line
    assert line.endswith(" 1.0")


# -- the client's wheel alone ---------------------------------------------------------------


@pytest.fixture(scope="module")
def client_alone(wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the client's wheel and no other package (not even
    pip): its `bin` folder."""
    venv = tmp_path_factory.mktemp("client-alone")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", str(wheels.client)],
        check=True,
        timeout=120,
    )  # fmt: skip
    return venv / "bin"


def run_alone(
    bin_dir: Path, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's programs as a job would: nothing of the repository on the path,
    a spool of the test's own."""
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        env=clean_env(BATCHGATE_SPOOL_DIR=str(tmp_path / "spool"), **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


INSTALLED = """
import importlib.metadata, importlib.util, json
import batchgate
print(json.dumps({
    "distributions": sorted(d.metadata["Name"] for d in importlib.metadata.distributions()),
    "package": batchgate.__file__,
    "server": importlib.util.find_spec("batchgate.collector") is not None,
}))
"""


def test_it_is_the_only_package_in_its_environment(client_alone: Path, tmp_path: Path) -> None:
    result = run_alone(client_alone, tmp_path, "python", "-c", INSTALLED)
    assert result.returncode == 0, result.stderr
    installed = json.loads(result.stdout)
    assert installed["distributions"] == ["batchgate-client"]
    assert installed["package"].startswith(f"{client_alone.parent}/")
    assert installed["server"] is False


FRESH_IMPORT = """
import json, sys
before = set(sys.modules)
import batchgate
from batchgate import Job
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_it_imports_only_the_standard_library(client_alone: Path, tmp_path: Path) -> None:
    result = run_alone(client_alone, tmp_path, "python", "-c", FRESH_IMPORT)
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert "batchgate.client.job" in imported
    outside = [
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "batchgate"
    ]
    assert outside == []


JOB = """
import sys
from batchgate import Job

with Job("packaged_job", run_id=sys.argv[1]) as job:
    job.progress(done=3, total=3)
"""


def test_a_job_in_it_reports_to_the_server(
    client_alone: Path, tmp_path: Path, server: Collector
) -> None:
    run_id = uuid.uuid4().hex
    result = run_alone(
        client_alone, tmp_path, "python", "-c", JOB, run_id, BATCHGATE_URL=server.url
    )
    assert result.returncode == 0, result.stderr
    run = server.wait_for_run(run_id, lambda run: run["status"] == "succeeded")
    assert run["job"] == "packaged_job"
    assert run["progress"]["done"] == 3


def test_batchgate_run_works_in_it(client_alone: Path, tmp_path: Path, server: Collector) -> None:
    run_id = uuid.uuid4().hex
    result = run_alone(
        client_alone, tmp_path,
        "batchgate", "run", "--job", "packaged_command", "--run-id", run_id, "--",
        str(client_alone / "python"), "-c", "print('ran')",
        BATCHGATE_URL=server.url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"
    server.wait_for_run(run_id, lambda run: run["status"] == "succeeded")


def test_batchgate_serve_in_it_says_the_server_is_not_installed(
    client_alone: Path, tmp_path: Path
) -> None:
    result = run_alone(client_alone, tmp_path, "batchgate", "serve")
    assert result.returncode == 2
    assert "only the client (batchgate-client) is installed" in result.stderr
    assert "pip install batchgate" in result.stderr


def test_batchgate_version_in_it_says_the_version(client_alone: Path, tmp_path: Path) -> None:
    result = run_alone(client_alone, tmp_path, "batchgate", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"batchgate {batchgate.__version__}\n"


# -- one version, and what pyproject.toml lists ----------------------------------------------


def test_the_three_versions_agree() -> None:
    version = SERVER["project"]["version"]
    assert CLIENT["project"]["version"] == version
    assert batchgate.__version__ == version
    assert f"batchgate-client=={version}" in SERVER["project"]["dependencies"]


def test_the_changelog_has_the_current_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(batchgate.__version__)}\] - \d{{4}}-\d\d-\d\d$",
                     changelog, re.MULTILINE)  # fmt: skip


def package_folders(folder: str) -> set[str]:
    """The packages under a top-level folder (each folder with an __init__.py), named as
    installed: collector/http -> batchgate.collector.http."""
    found = set()
    for init in (REPO / folder).rglob("__init__.py"):
        relative = init.parent.relative_to(REPO)
        found.add(".".join(("batchgate", *relative.parts)))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(SERVER["tool"]["setuptools"]["packages"])
    assert package_folders("collector") | package_folders("rules") == listed


def test_the_client_lists_its_packages() -> None:
    client = {name.replace(".client.root", "") for name in package_folders("client")}
    assert client == set(CLIENT["tool"]["setuptools"]["packages"])


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lowest_constraints_are_the_declared_lower_bounds() -> None:
    declared = {}
    for requirement in SERVER["project"]["dependencies"]:
        if requirement.startswith("batchgate-client"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][^,;\s]*)", requirement)
        assert match, f"{requirement}: every server dependency has a tested lower bound"
        declared[normalized(match[1])] = match[2]
    pinned = {}
    for line in (REPO / "constraints" / "lowest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pinned[normalized(name)] = version
    assert pinned == declared
