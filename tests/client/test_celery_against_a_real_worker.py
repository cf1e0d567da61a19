"""`batchgate.celery.monitor(app)` against the real thing: a Redis broker (Debian's
redis-server, started on a free port), a real Celery worker process, and a real collector.
Tasks succeed, fail, retry and are revoked; batchgate's API says so, with the waits."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from batchgate import client
from tests.client.conftest import (
    IMPORT_ROOT,
    Collector,
    free_port,
    get_json,
    subprocess_env,
    wait_until,
)
from tests.helpers import need_program

TASKS = """
import os
import time

from celery import Celery

from batchgate.celery import monitor

app = Celery("tasks", broker=os.environ["BROKER_URL"], backend=os.environ["BROKER_URL"])
app.conf.update(
    task_default_queue="emails",
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)
monitor(app, url=os.environ["COLLECTOR_URL"], depth_every=0.5)


@app.task(name="app.tasks.send_email")
def send_email(n):
    time.sleep(0.1)
    return os.getpid()  # the process that ran the task: batchgate should name it


@app.task(name="app.tasks.slow")
def slow():
    time.sleep(1.5)


@app.task(name="app.tasks.check_user")
def check_user():
    raise LookupError("no such user")


@app.task(bind=True, name="app.tasks.flaky", max_retries=3)
def flaky(self):
    if self.request.retries < 2:
        raise self.retry(countdown=0.2, exc=ConnectionError("smtp down"))
    return "sent"
"""


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = need_program("redis-server")
    pytest.importorskip("celery")
    redis = pytest.importorskip("redis")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _answers(redis, url), 10, "redis-server to answer PING")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _answers(redis: Any, url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.exceptions.ConnectionError:
        return False


def _tasks_module(path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ModuleType:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("celery_tasks_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _finished(collector: Collector, run_id: str) -> dict[str, Any]:
    final = ("succeeded", "failed", "cancelled")
    return collector.wait_for_run(run_id, lambda run: run["status"] in final, timeout=30)


def test_a_real_worker_reports_successes_failures_retries_and_revocations(
    tmp_path: Path, redis_url: str, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "tasks.py"
    source.write_text(textwrap.dedent(TASKS))
    env = {"BROKER_URL": redis_url, "COLLECTOR_URL": collector.url}
    tasks = _tasks_module(source, monkeypatch, env)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork",
         "--concurrency", "1", "--queues", "emails", "--without-gossip", "--without-mingle",
         "--hostname", "celery@mailer-1", "--loglevel", "info"],
        cwd=tmp_path, env=subprocess_env(**env, PYTHONPATH=f"{tmp_path}:{IMPORT_ROOT}"),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # The worker is ready once it has reported the queue's depth.
        wait_until(
            lambda: get_json(f"{collector.url}/queues")["queues"], 30, "the worker's first report"
        )
        slow = tasks.slow.delay()  # holds the one worker process while the rest wait
        sent = [tasks.send_email.delay(n) for n in range(3)]
        failing = tasks.check_user.delay()
        flaky = tasks.flaky.delay()
        doomed = tasks.send_email.delay(99)
        tasks.app.control.revoke(doomed.id)
        client.flush(5)

        for result in (slow, *sent, failing, flaky, doomed):
            _finished(collector, result.id)
        pids = {result.id: result.get(timeout=10) for result in sent}
        runs = {result.id: collector.run(result.id) for result in (*sent, failing, flaky, doomed)}
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()

    for result in sent:
        run = runs[result.id]
        assert run is not None
        assert (run["job"], run["status"], run["queue"]) == (
            "app.tasks.send_email", "succeeded", "emails"
        )  # fmt: skip
        assert run["wait_seconds"] > 1.0  # queued behind the slow task
        assert [(a["attempt"], a["outcome"]) for a in run["attempts"]] == [(1, "succeeded")]
        # The worker's name and the pool process that ran the task (not the main process).
        ran_in = {"hostname": "celery@mailer-1", "pid": pids[result.id]}
        assert run["worker"] == run["attempts"][0]["worker"] == ran_in
        assert ran_in["pid"] != worker.pid
    failed = runs[failing.id]
    assert failed is not None
    assert (failed["job"], failed["status"]) == ("app.tasks.check_user", "failed")
    assert "LookupError: no such user" in failed["message"]
    retried = runs[flaky.id]
    assert retried is not None
    assert (retried["status"], retried["max_attempts"]) == ("succeeded", 4)
    assert [(a["attempt"], a["outcome"]) for a in retried["attempts"]] == [
        (1, "retry"), (2, "retry"), (3, "succeeded")
    ]  # fmt: skip
    assert "smtp down" in retried["attempts"][0]["message"]
    revoked = runs[doomed.id]
    assert revoked is not None
    assert (revoked["status"], revoked["message"], revoked["attempts"]) == (
        "cancelled", "revoked", []
    )  # fmt: skip

    queue = get_json(f"{collector.url}/queues/emails")
    assert queue["last_hour"] == {"completed": 5, "failed": 1, "retried": 2, "cancelled": 1}
    assert (queue["waiting_runs"], queue["active"]) == (0, 0)
    assert queue["broker_reported_at"] is not None
    (job,) = get_json(f"{collector.url}/jobs/app.tasks.flaky")["label_sets"]
    assert job["retries"] == 2
