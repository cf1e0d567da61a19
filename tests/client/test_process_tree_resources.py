"""`batchgate run` heartbeats carry the resources of the command's whole process tree."""

import os
import signal
import subprocess
import sys

import pytest

from batchgate.client.resources import ProcessSampler, ProcessTreeSampler, parse_cpu_time
from tests.client.conftest import wait_until

# A shell whose grandchild holds 64 MiB and keeps a core busy: the tree, not just its root.
GRANDCHILD = (
    "import time\n"
    "block = bytearray(64 * 1024 * 1024)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "deadline = time.monotonic() + 20\n"
    "while time.monotonic() < deadline: pass\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_it_sums_the_whole_tree():
    shell = subprocess.Popen(
        ["sh", "-c", f'{sys.executable} -c "$0"; true', GRANDCHILD], start_new_session=True
    )
    try:
        sampler = ProcessTreeSampler()
        sampler.watch(shell.pid)

        def busy_and_big():
            resources = sampler.sample()
            big = resources.get("memory_bytes", 0) > 64 * 1024 * 1024
            return resources if big and resources["cpu_percent"] > 50 else None

        resources = wait_until(busy_and_big, timeout=15)
        assert resources["io_read_bytes"] >= 0
        assert resources["io_write_bytes"] >= 0
    finally:
        os.killpg(shell.pid, signal.SIGKILL)  # the group this test started: shell and grandchild
        shell.wait()


def test_it_reports_nothing_once_the_command_is_gone():
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert done.returncode == 0
    sampler = ProcessTreeSampler()
    assert sampler.sample() == {}
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    sampler.watch(gone.pid)
    assert sampler.sample() == {}


def test_it_measures_its_own_process():
    resources = ProcessSampler().sample()
    assert resources["cpu_percent"] >= 0
    assert resources["memory_bytes"] > 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:01:02", 62.0), ("0:03.50", 3.5), ("2-01:00:00", 176400.0), ("12:34", 754.0)],
)
def test_it_reads_ps_cpu_times(text, seconds):
    assert parse_cpu_time(text) == seconds
