"""`import client` (and the `run` path) must pull in nothing outside the standard library."""

import json
import subprocess
import sys

from batchgate import client
from tests.client.conftest import subprocess_env

FRESH_IMPORT = """
import json, sys
before = set(sys.modules)
from batchgate import client
from batchgate.client import run as client_run
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_it_imports_only_the_standard_library(tmp_path):
    # -S: no site-packages at all, as on a machine where only the SDK was copied.
    result = subprocess.run(
        [sys.executable, "-S", "-c", FRESH_IMPORT],
        env=subprocess_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    added = json.loads(result.stdout)
    assert "batchgate.client.job" in added
    ours = {"batchgate", "batchgate.client"}
    foreign = [
        name
        for name in added
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "batchgate"
        and not name.startswith("batchgate.client")
    ]
    assert foreign == []
    assert ours <= set(added)


def test_it_runs_a_command_without_site_packages(tmp_path):
    result = subprocess.run(
        [sys.executable, "-S", "-m", "batchgate", "run", "--job", "nothing_installed", "--",
         sys.executable, "-c", "print('ran')"],
        env=subprocess_env(BATCHGATE_URL="http://127.0.0.1:9", BATCHGATE_SPOOL_DIR="off"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"


def test_it_has_an_explicit_public_surface():
    assert client.__all__ == ["Connection", "Job", "current_job", "flush", "shutdown"]
    for name in client.__all__:
        assert getattr(client, name) is not None
