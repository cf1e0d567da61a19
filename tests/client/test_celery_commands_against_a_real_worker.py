"""Acting on a queue, end to end with a real Celery worker and Redis: a queue paused from
batchgate stops being consumed and resumes; a task cancelled from batchgate is revoked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from batchgate import client
from tests.client.conftest import IMPORT_ROOT, Collector, get_json, subprocess_env, wait_until
from tests.client.test_celery_against_a_real_worker import (  # noqa: F401 (a fixture)
    TASKS,
    _tasks_module,
    redis_url,
)


def _post(url: str) -> Any:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _consuming(app: Any) -> bool | None:
    """Whether the worker consumes `emails` (None: it did not answer)."""
    answers = app.control.inspect(timeout=1.0).active_queues() or {}
    if not answers:
        return None
    return any(q["name"] == "emails" for queues in answers.values() for q in queues)


def test_a_queue_is_paused_and_resumed_and_a_task_cancelled_from_batchgate(
    tmp_path: Path,
    redis_url: str,  # noqa: F811 (the fixture)
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "tasks.py"
    source.write_text(textwrap.dedent(TASKS))
    env = {"BROKER_URL": redis_url, "COLLECTOR_URL": collector.url}
    tasks = _tasks_module(source, monkeypatch, env)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork",
         "--concurrency", "1", "--queues", "emails", "--without-gossip", "--without-mingle",
         "--loglevel", "info"],
        cwd=tmp_path, env=subprocess_env(**env, PYTHONPATH=f"{tmp_path}:{IMPORT_ROOT}"),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: get_json(f"{collector.url}/queues")["queues"], 30, "the worker")
        wait_until(lambda: _consuming(tasks.app) is True, 30, "the worker to consume emails")

        assert _post(f"{collector.url}/queues/emails/pause")["pending"] is True
        wait_until(lambda: _consuming(tasks.app) is False, 30, "the queue to be paused")
        doomed = tasks.send_email.delay(1)
        kept = tasks.send_email.delay(2)
        client.flush(5)
        time.sleep(1.5)  # a consuming worker would have taken both by now
        for result in (doomed, kept):
            assert collector.wait_for_run(result.id, lambda run: True)["status"] == "queued"

        assert _post(f"{collector.url}/runs/{doomed.id}/cancel")["command"] == "cancel"
        wait_until(
            lambda: any(
                doomed.id in ids
                for ids in (tasks.app.control.inspect(timeout=1.0).revoked() or {}).values()
            ),
            30,
            "the task to be revoked",
        )
        assert _post(f"{collector.url}/queues/emails/resume")["command"] == "resume"
        cancelled = collector.wait_for_run(
            doomed.id, lambda run: run["status"] == "cancelled", timeout=30
        )
        assert cancelled["message"] == "revoked"
        done = collector.wait_for_run(kept.id, lambda run: run["status"] == "succeeded", timeout=30)
        assert done["wait_seconds"] > 1.5
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    actions = [entry["action"] for entry in get_json(f"{collector.url}/audit")["entries"]]
    assert {"queue.pause", "run.cancel", "queue.resume"} <= set(actions)
