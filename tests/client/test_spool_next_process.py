"""Events a process could not deliver are delivered by the next process, once."""

import json
import subprocess
import sys
import time
from collections import Counter

from tests.client.conftest import Receiver, free_port, subprocess_env, wait_until

JOB_SCRIPT = """
import sys
from batchgate import Job
with Job(sys.argv[1], heartbeat=None) as job:
    job.progress(done=7, total=7)
"""


def run_job(name, url, spool, tmp_path):
    return subprocess.run(
        [sys.executable, "-c", JOB_SCRIPT, name],
        env=subprocess_env(BATCHGATE_URL=url, BATCHGATE_SPOOL_DIR=str(spool)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_it_delivers_what_an_earlier_process_spooled(isolated_client, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    first = run_job("nightly_backup", url, isolated_client, tmp_path)
    assert first.returncode == 0
    assert time.monotonic() - started < 10
    assert "events are kept in" in first.stderr  # logged once, not raised
    [left] = isolated_client.glob("*/*.jsonl")
    spooled = [json.loads(line) for line in left.read_text().splitlines()]
    assert [e["event"] for e in spooled] == ["start", "success"]

    receiver = Receiver(port)
    try:
        second = run_job("weekly_report", url, isolated_client, tmp_path)
        assert second.returncode == 0, second.stderr
        wait_until(lambda: len(receiver.of("success")) == 2)
        events = receiver.events
    finally:
        receiver.stop()
    assert Counter(e["event_id"] for e in events) == Counter({e["event_id"]: 1 for e in events})
    backup = [e for e in events if e["job"] == "nightly_backup"]
    assert backup == spooled  # same ids, same original timestamps, same content
    assert list(isolated_client.glob("*/*.jsonl")) == []
