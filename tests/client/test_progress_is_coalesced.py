"""progress() only records; at most one progress event leaves per interval, the latest values."""

import time

from batchgate import Job
from tests.client.conftest import fast_connection, wait_until


def test_it_sends_at_most_one_progress_event_per_interval(receiver):
    job = Job("etl", connection=fast_connection(receiver.url), progress_interval=0.2)
    calls = 0
    with job:
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            calls += 1
            job.progress(done=calls, total=10**9, errors=calls // 1000)
    elapsed = time.monotonic() - started
    success = wait_until(lambda: receiver.of("success"))[0]
    progress = receiver.of("progress")
    assert calls > 10_000
    assert 1 <= len(progress) <= elapsed / 0.2 + 2
    # Always the latest values: increasing, and the final event has the very last call.
    done = [e["progress"]["done"] for e in progress]
    assert done == sorted(done)
    assert success["progress"] == {"done": calls, "total": 10**9, "errors": calls // 1000}


def test_it_sends_only_metrics_that_changed_and_all_of_them_at_the_end(receiver):
    job = Job("etl", connection=fast_connection(receiver.url), progress_interval=0)
    with job:
        job.metric("rows_loaded", 10)
        job.metric("bytes_loaded", 4096)
        wait_until(lambda: receiver.of("progress"))
        job.metric("rows_loaded", 20)
        wait_until(lambda: len(receiver.of("progress")) >= 2)
    success = wait_until(lambda: receiver.of("success"))[0]
    first, second = receiver.of("progress")[:2]
    assert first["metrics"] == {"rows_loaded": 10, "bytes_loaded": 4096}
    assert second["metrics"] == {"rows_loaded": 20}
    assert success["metrics"] == {"rows_loaded": 20, "bytes_loaded": 4096}


def test_it_drops_invalid_values_without_raising(receiver, caplog):
    job = Job("etl", connection=fast_connection(receiver.url))
    with job:
        job.progress(done=-1, total=float("nan"), percent=150)
        job.metric("not a name", 1)
        job.metric("ratio", float("inf"))
        job.metric("flag", True)
    success = wait_until(lambda: receiver.of("success"))[0]
    assert success["progress"] == {"percent": 100}
    assert "metrics" not in success
    assert "metric name 'not a name' is invalid" in caplog.text
    assert "progress done=-1" in caplog.text
