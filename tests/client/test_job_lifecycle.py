"""A Job reports start, then success, fail, or cancel, in order, without raising its own errors."""

import asyncio
import time

import pytest

from batchgate import Job, current_job
from tests.client.conftest import fast_connection, wait_until


def finished(receiver, run_id):
    return [e for e in receiver.events if e["run_id"] == run_id and e["event"] != "progress"]


def test_it_sends_start_then_success(receiver):
    before = time.time()
    with Job("etl_nightly", connection=fast_connection(receiver.url)) as job:
        pass
    events = wait_until(lambda: len(finished(receiver, job.run_id)) == 2 and receiver.events)
    start, success = [e for e in events if e["event"] != "progress"]
    assert (start["event"], success["event"]) == ("start", "success")
    assert start["job"] == "etl_nightly"
    assert start["run_id"] == job.run_id
    assert len(job.run_id) == 32
    assert start["event_id"] != success["event_id"]
    assert before <= start["timestamp"] <= success["timestamp"] <= time.time()
    assert start["lost_after"] == 120.0  # 4 heartbeats of 30 s


def test_it_fails_with_the_exception_and_reraises_it(receiver):
    job = Job("etl_nightly", connection=fast_connection(receiver.url))
    with pytest.raises(ValueError, match="bad row 17"), job:
        raise ValueError("bad row 17")
    wait_until(lambda: receiver.of("fail"))
    message = receiver.of("fail")[0]["message"]
    assert message.startswith("ValueError: bad row 17\n")
    assert "Traceback (most recent call last)" in message
    assert "exit_code" not in receiver.of("fail")[0]


def test_it_cancels_on_keyboard_interrupt(receiver):
    with pytest.raises(KeyboardInterrupt), Job("etl", connection=fast_connection(receiver.url)):
        raise KeyboardInterrupt
    wait_until(lambda: receiver.of("cancel"))
    assert "KeyboardInterrupt" in receiver.of("cancel")[0]["message"]


def test_it_reads_sys_exit_by_its_code(receiver):
    connection = fast_connection(receiver.url)
    with pytest.raises(SystemExit), Job("ok", connection=connection):
        raise SystemExit(0)
    with pytest.raises(SystemExit), Job("failed", connection=connection):
        raise SystemExit(3)
    wait_until(lambda: receiver.of("success") and receiver.of("fail"))
    assert receiver.of("success")[0]["job"] == "ok"
    assert receiver.of("fail")[0]["exit_code"] == 3


def test_it_makes_each_decorated_call_a_new_run(receiver):
    job = Job("report", connection=fast_connection(receiver.url))

    @job
    def build(n):
        job_now = current_job()
        assert job_now is not None
        job_now.progress(done=n, total=n)
        return n * 2

    assert build(1) == 2
    assert build(2) == 4
    successes = wait_until(lambda: len(receiver.of("success")) == 2 and receiver.of("success"))
    assert len({e["run_id"] for e in successes}) == 2
    assert sorted(e["progress"]["done"] for e in successes) == [1, 2]
    assert build.__name__ == "build"


def test_it_decorates_coroutines(receiver):
    @Job("async_report", connection=fast_connection(receiver.url))
    async def build():
        job_now = current_job()
        assert job_now is not None
        job_now.metric("pages", 12)
        return "done"

    assert asyncio.run(build()) == "done"
    wait_until(lambda: receiver.of("success"))
    assert receiver.of("success")[0]["metrics"] == {"pages": 12}


def test_it_works_without_with(receiver):
    job = Job("manual", connection=fast_connection(receiver.url)).start()
    job.progress(done=5, total=10)
    job.metric("rows_per_second", 812.5)
    job.fail("upstream API answered 503", exit_code=2)
    job.success()  # already finished: ignored
    fail = wait_until(lambda: receiver.of("fail"))[0]
    assert fail["message"] == "upstream API answered 503"
    assert fail["exit_code"] == 2
    assert fail["progress"] == {"done": 5, "total": 10}
    assert fail["metrics"] == {"rows_per_second": 812.5}
    assert receiver.of("success") == []


def test_it_reports_a_one_shot_result_without_start(receiver):
    Job("ping", connection=fast_connection(receiver.url)).success(duration_seconds=42.0)
    success = wait_until(lambda: receiver.of("success"))[0]
    assert success["duration_seconds"] == 42.0
    assert receiver.of("start") == []


def test_it_starts_a_new_run_when_a_finished_job_is_reused(receiver):
    job = Job("loop", connection=fast_connection(receiver.url))
    with job:
        first = job.run_id
    with job:
        second = job.run_id
    assert first != second
    wait_until(lambda: len(receiver.of("success")) == 2)


def test_it_fails_a_run_left_unfinished_at_exit(receiver):
    from batchgate import client

    job = Job("forgotten", connection=fast_connection(receiver.url)).start()
    client.shutdown()
    fail = wait_until(lambda: receiver.of("fail"))[0]
    assert fail["run_id"] == job.run_id
    assert "exited before the run reported" in fail["message"]


def test_a_long_message_is_cut_with_the_cut_marked(receiver):
    job = Job("etl", connection=fast_connection(receiver.url), heartbeat=None).start()
    job.fail("x" * 5000)
    wait_until(lambda: receiver.of("fail"))
    message = receiver.of("fail")[0]["message"]
    assert len(message) <= 4096
    assert message.endswith(f"… [truncated {5000 - message.index('…'):,} bytes]")
