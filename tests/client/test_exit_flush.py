"""At exit, pending events are delivered within the flush timeout, or left in the spool."""

import json
import socket
import subprocess
import sys
import threading
import time

from batchgate import Job, client
from batchgate.client.sender import sender_for
from tests.client.conftest import (
    blackhole,
    fast_connection,
    free_port,
    subprocess_env,
    wait_until,
)

SCRIPT = """
from batchgate import Job
with Job("nightly", heartbeat=None) as job:
    job.progress(done=1, total=1)
print("job done", flush=True)
"""


def run(url, spool, tmp_path, **env):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=subprocess_env(BATCHGATE_URL=url, BATCHGATE_SPOOL_DIR=str(spool), **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


def test_it_delivers_everything_before_the_process_exits(receiver, isolated_client, tmp_path):
    result, _ = run(receiver.url, isolated_client, tmp_path)
    assert result.returncode == 0, result.stderr
    # Delivered by the time the process was gone: no waiting needed here.
    assert [e["event"] for e in receiver.events] == ["start", "success"]
    assert result.stderr == ""


def test_it_gives_up_after_the_flush_timeout_and_spools(isolated_client, tmp_path):
    with blackhole() as url:
        result, elapsed = run(url, isolated_client, tmp_path, BATCHGATE_FLUSH_TIMEOUT="1")
    assert result.returncode == 0
    assert result.stdout == "job done\n"
    assert elapsed < 6  # interpreter start + 1 s of flush, not the 5 s request timeout twice
    [spooled] = wait_until(lambda: list(isolated_client.glob("*/*.jsonl")))
    assert '"event":"success"' in spooled.read_text()


def test_it_spools_what_a_hung_sender_holds_when_exit_gives_up(isolated_client):
    port = free_port()
    job = Job("nightly", connection=fast_connection(f"http://127.0.0.1:{port}", timeout=30))
    job.start()  # refused: spooled, retried soon
    [spool] = wait_until(lambda: list(isolated_client.glob("*/*.jsonl")))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        listener.settimeout(10)
        hung, _ = listener.accept()  # the retry arrives, and is never answered
        with hung:
            job.success()  # queued behind a push that will not return for 30 s
            started = time.monotonic()
            client.shutdown(timeout=1.0)
            assert time.monotonic() - started < 2.0
    kinds = [json.loads(line)["event"] for line in spool.read_text().splitlines()]
    assert kinds == ["start", "success"]


def test_it_spools_what_a_round_took_when_exit_gives_up_before_it_is_sent(
    receiver, isolated_client
):
    # A round takes the queue, then a source's events (the Celery monitor's), then sends:
    # exit giving up in between must still find the queue's events to spool.
    connection = fast_connection(receiver.url)
    taking, release = threading.Event(), threading.Event()

    def slow_source():
        taking.set()
        release.wait(10)
        return []

    sender_for(connection).add_source(slow_source)
    job = Job("nightly", connection=connection, heartbeat=None)
    job.start()
    assert taking.wait(10)
    try:
        client.shutdown(timeout=0.2)
    finally:
        release.set()
    [spool] = list(isolated_client.glob("*/*.jsonl"))
    kinds = [json.loads(line)["event"] for line in spool.read_text().splitlines()]
    assert kinds == ["start", "fail"]  # the run unfinished at exit is reported failed
