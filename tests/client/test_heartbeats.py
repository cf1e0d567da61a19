"""A running job sends heartbeats carrying its own CPU, memory and I/O."""

import sys

from batchgate import Job
from tests.client.conftest import fast_connection, wait_until


def heartbeats(receiver):
    return [e for e in receiver.of("progress") if "progress" not in e]


def test_it_sends_heartbeats_with_the_process_resources(receiver):
    with Job("backup", connection=fast_connection(receiver.url), heartbeat=0.1) as job:
        beats = wait_until(lambda: len(heartbeats(receiver)) >= 3 and heartbeats(receiver))
    start = receiver.of("start")[0]
    assert start["lost_after"] == 60.0  # 4 x 0.1 s would be too eager: at least a minute
    assert {e["run_id"] for e in beats} == {job.run_id}
    resources = beats[-1]["resources"]
    assert resources["cpu_percent"] >= 0
    assert resources["memory_bytes"] > 10 * 1024 * 1024  # a Python interpreter at least
    if sys.platform.startswith("linux"):
        assert resources["io_read_bytes"] >= 0
        assert resources["io_write_bytes"] >= 0


def test_it_sends_no_heartbeat_when_turned_off(receiver):
    with Job("quiet", connection=fast_connection(receiver.url), heartbeat=None) as job:
        job.progress(done=1)
    wait_until(lambda: receiver.of("success"))
    assert "lost_after" not in receiver.of("start")[0]
    assert heartbeats(receiver) == []


def test_it_honours_an_explicit_lost_after(receiver):
    with Job("long", connection=fast_connection(receiver.url), lost_after=7200):
        pass
    wait_until(lambda: receiver.of("start"))
    assert receiver.of("start")[0]["lost_after"] == 7200
