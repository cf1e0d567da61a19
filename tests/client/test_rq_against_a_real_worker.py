"""`rq worker --worker-class batchgate.rq.Worker` against the real thing: a Redis
(Debian's redis-server on a free port), a real `rq worker` process, and a real collector.
Jobs succeed, fail and are retried; batchgate's API says so, with the waits and the depth."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import IMPORT_ROOT, Collector, get_json, subprocess_env
from tests.client.test_celery_against_a_real_worker import redis_url  # noqa: F401 (a fixture)

JOBS = """
import os
import socket
import time

import redis


def send_email(n):
    time.sleep(0.1)
    return [n, socket.gethostname(), os.getppid()]  # the work horse's parent: the worker


def check_user():
    raise LookupError("no such user")


def flaky(key):
    # Fails on its first two attempts: the attempts are counted in Redis.
    attempts = redis.Redis.from_url(os.environ["REDIS_URL"]).incr(key)
    if attempts < 3:
        raise ConnectionError(f"smtp down (attempt {attempts})")
    return "sent"
"""


@pytest.fixture
def emails(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """The `emails` queue on the test's Redis, with JOBS importable as `jobs` here and by
    the worker (from tmp_path)."""
    redis = pytest.importorskip("redis")
    rq = pytest.importorskip("rq")
    (tmp_path / "jobs.py").write_text(textwrap.dedent(JOBS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("REDIS_URL", redis_url)
    return rq.Queue("emails", connection=redis.Redis.from_url(redis_url))


def work_off(folder: Path, redis_url: str, collector: Collector) -> None:  # noqa: F811
    """Run a real `rq worker --burst` with batchgate's worker class until the queue is empty."""
    env = subprocess_env(BATCHGATE_URL=collector.url, REDIS_URL=redis_url,
                         PYTHONPATH=f"{folder}:{IMPORT_ROOT}")  # fmt: skip
    worker = subprocess.run(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url,
         "--worker-class", "batchgate.rq.Worker", "emails"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stdout + worker.stderr


def test_a_real_worker_reports_successes_failures_and_retries(
    tmp_path: Path,
    redis_url: str,  # noqa: F811 (the fixture)
    collector: Collector,
    emails: Any,
) -> None:
    import jobs  # type: ignore[import-not-found]  # the module the fixture wrote

    rq = pytest.importorskip("rq")
    sent = [emails.enqueue(jobs.send_email, n) for n in range(3)]
    failing = emails.enqueue(jobs.check_user)
    flaky = emails.enqueue(jobs.flaky, "flaky-attempts", retry=rq.Retry(max=3))
    work_off(tmp_path, redis_url, collector)

    def finished(job: Any) -> dict[str, Any]:
        return collector.wait_for_run(
            job.id, lambda run: run["status"] in ("succeeded", "failed"), timeout=30
        )

    for job in sent:
        run = finished(job)
        assert (run["job"], run["status"], run["queue"]) == (
            "jobs.send_email", "succeeded", "emails"
        )  # fmt: skip
        assert run["wait_seconds"] is not None
        assert run["wait_seconds"] >= 0
        _, hostname, worker_pid = job.return_value()
        assert run["worker"] == {"hostname": hostname, "pid": worker_pid}
    failed = finished(failing)
    assert (failed["job"], failed["status"]) == ("jobs.check_user", "failed")
    assert failed["message"] == "LookupError: no such user"
    retried = finished(flaky)
    assert retried["status"] == "succeeded"
    assert [(a["attempt"], a["outcome"]) for a in retried["attempts"]] == [
        (1, "retry"), (2, "retry"), (3, "succeeded")
    ]  # fmt: skip
    assert "smtp down (attempt 1)" in retried["attempts"][0]["message"]

    page = get_json(f"{collector.url}/queues/emails")
    assert page["last_hour"] == {"completed": 4, "failed": 1, "retried": 2, "cancelled": 0}
    assert page["broker_reported_at"] is not None


def test_a_job_canceled_before_a_worker_took_it_is_reported_cancelled(
    tmp_path: Path,
    redis_url: str,  # noqa: F811 (the fixture)
    collector: Collector,
    emails: Any,
) -> None:
    import jobs

    kept = emails.enqueue(jobs.send_email, 1)
    doomed = emails.enqueue(jobs.send_email, 2)
    doomed.cancel()  # no worker runs yet: it never starts
    work_off(tmp_path, redis_url, collector)

    run = collector.wait_for_run(doomed.id, lambda run: run["status"] == "cancelled", timeout=30)
    assert (run["job"], run["queue"], run["message"], run["attempts"]) == (
        "jobs.send_email", "emails", "canceled", []
    )  # fmt: skip
    assert run["queued_at"] is not None
    collector.wait_for_run(kept.id, lambda run: run["status"] == "succeeded", timeout=30)
    page = get_json(f"{collector.url}/queues/emails")
    assert page["last_hour"] == {"completed": 1, "failed": 0, "retried": 0, "cancelled": 1}
