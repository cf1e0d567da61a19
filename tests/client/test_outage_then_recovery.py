"""Collector down when the job starts, up later: every event arrives once, with its own time."""

import time
from collections import Counter

from batchgate import Job
from tests.client.conftest import Receiver, fast_connection, free_port, wait_until


def test_it_delivers_every_event_once_with_original_timestamps(isolated_client):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    job = Job("etl", connection=fast_connection(url), heartbeat=0.2, progress_interval=0.05)
    job.start()
    job.progress(done=1, total=3)
    spooled = isolated_client.glob("*/*.jsonl")
    wait_until(lambda: any(path.stat().st_size for path in isolated_client.glob("*/*.jsonl")))
    job.progress(done=2, total=3)
    job.metric("rows", 2)
    came_up = time.time()
    receiver = Receiver(port)
    try:
        job.progress(done=3, total=3)
        job.success()
        wait_until(lambda: receiver.of("success"))
        events = receiver.events
        # Delivered: the spool file is empty again, once the client has read the answer
        # (the receiver records a push before it answers: wait while it still serves).
        wait_until(
            lambda: all(path.stat().st_size == 0 for path in isolated_client.glob("*/*.jsonl")),
            what="the spool to be emptied",
        )
    finally:
        receiver.stop()
    ids = Counter(e["event_id"] for e in events)
    assert all(count == 1 for count in ids.values()), ids
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "success"
    assert events[0]["timestamp"] < came_up  # stamped when it happened, not when delivered
    timestamps = [e["timestamp"] for e in events]
    assert timestamps == sorted(timestamps)  # oldest (spooled) first
    assert {e["run_id"] for e in events} == {job.run_id}
    assert spooled is not None


def test_it_retries_server_errors_until_they_pass(receiver):
    receiver.script.extend([(503, {"error": "storage failing"}), (500, {"error": "bug"})])
    with Job("etl", connection=fast_connection(receiver.url)):
        pass
    wait_until(lambda: receiver.of("success"))
    assert [e["event"] for e in receiver.events] == ["start", "success"]


def test_it_honours_retry_after_on_429(receiver):
    receiver.script.append((429, {"error": "slow down"}))
    with Job("etl", connection=fast_connection(receiver.url)):
        pass
    wait_until(lambda: receiver.of("success"))
