"""`batchgate.celery.monitor(app)` sends a task that ends before the next hand-over of its
events as one event (its end, with `duration_seconds`), and a task still running at a
hand-over as its start, then its end. Real Celery (tasks run in this process, as
`task.apply()` runs them, with Celery's own signals) and a real collector."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from batchgate import client
from tests.client.conftest import Collector

celery = pytest.importorskip("celery")


def _app(collector: Collector) -> tuple[Any, Any]:
    from batchgate.celery import monitor

    app = celery.Celery("short_tasks", broker="memory://", backend=None)
    app.conf.update(task_ignore_result=True)
    return app, monitor(app, url=collector.url, depth_every=None)


def test_a_task_that_ends_before_the_hand_over_is_one_event_and_a_long_one_two(
    collector: Collector,
) -> None:
    app, handlers = _app(collector)

    def run_quick() -> None:
        time.sleep(0.01)

    def run_long() -> None:
        handlers.flush_pending()  # a hand-over while the task runs: its start goes out
        time.sleep(0.05)

    def run_broken() -> None:
        raise LookupError("no such user")

    quick = app.task(name="app.tasks.quick")(run_quick)
    long = app.task(name="app.tasks.long")(run_long)
    broken = app.task(name="app.tasks.broken")(run_broken)
    quick_id = quick.apply().id
    long_id = long.apply().id
    broken_id = broken.apply().id
    handlers.flush_pending()
    assert client.flush(10)

    run = collector.wait_for_run(quick_id, lambda run: run["status"] == "succeeded")
    assert [point["event"] for point in run["timeline"]] == ["success"]
    assert 0.01 <= run["duration_seconds"] < 5
    (attempt,) = run["attempts"]
    assert (attempt["attempt"], attempt["outcome"]) == (1, "succeeded")
    assert attempt["duration_seconds"] == run["duration_seconds"]
    assert run["worker"]["pid"] > 0

    run = collector.wait_for_run(long_id, lambda run: run["status"] == "succeeded")
    assert [point["event"] for point in run["timeline"]] == ["start", "success"]
    assert 0.05 <= run["duration_seconds"] < 5
    assert [(a["attempt"], a["outcome"]) for a in run["attempts"]] == [(1, "succeeded")]

    run = collector.wait_for_run(broken_id, lambda run: run["status"] == "failed")
    assert [point["event"] for point in run["timeline"]] == ["fail"]
    assert "LookupError: no such user" in run["message"]

    # Nothing kept since: the hand-over thread sleeps until the next task, then hands it over.
    later_id = quick.apply().id
    # (The run is seen finished before its push is durable; its timeline is the store's.)
    run = collector.wait_for_run(later_id, lambda run: run["timeline"])
    assert (run["status"], [point["event"] for point in run["timeline"]]) == (
        "succeeded", ["success"]
    )  # fmt: skip


def test_the_events_are_handed_over_by_the_sender_s_own_thread(collector: Collector) -> None:
    app, _ = _app(collector)

    def run_quick() -> None:
        pass

    quick = app.task(name="app.tasks.quick")(run_quick)

    run_ids = [quick.apply().id for _ in range(20)]
    # No thread of the monitor's own: the sender's thread takes what it keeps (and a flush
    # takes it too, before the LINGER is up).
    names = {thread.name for thread in threading.enumerate()}
    assert {name for name in names if name.startswith("batchgate")} == {"batchgate-sender"}
    assert client.flush(10)

    for run_id in run_ids:
        run = collector.wait_for_run(run_id, lambda run: run["timeline"])
        assert (run["status"], [point["event"] for point in run["timeline"]]) == (
            "succeeded", ["success"]
        )  # fmt: skip
