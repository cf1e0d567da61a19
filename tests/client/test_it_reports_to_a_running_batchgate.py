"""The SDK against a real batchgate: what a job reports is what GET /runs/{run_id} shows."""

import pytest

from batchgate import Job
from tests.client.conftest import fast_connection, get_json


def test_it_reports_a_successful_run(collector):
    with Job("etl_nightly", connection=fast_connection(collector.url)) as job:
        job.progress(done=10, total=10)
    run = collector.wait_for_run(job.run_id, lambda r: r["status"] == "succeeded")
    assert run["job"] == "etl_nightly"
    assert run["progress"]["done"] == 10
    assert run["progress"]["total"] == 10
    assert run["duration_seconds"] >= 0
    assert run["finished_at"] is not None


def test_it_reports_a_failure_with_the_exception_message(collector):
    job = Job("etl_nightly", connection=fast_connection(collector.url))
    with pytest.raises(KeyError), job:
        raise KeyError("customer_id")
    run = collector.wait_for_run(job.run_id, lambda r: r["status"] == "failed")
    assert run["message"].startswith("KeyError: 'customer_id'")
    assert "Traceback" in run["message"]


def test_it_shows_progress_and_metrics_while_the_job_runs(collector):
    connection = fast_connection(collector.url)
    with Job("etl_nightly", connection=connection, progress_interval=0.05) as job:
        job.progress(done=250, total=1000, errors=3)
        job.metric("rows_per_second", 812.5)
        run = collector.wait_for_run(
            job.run_id, lambda r: r["progress"] and r["progress"]["done"] == 250
        )
        assert run["status"] == "running"
        assert run["progress"] == {"percent": None, "done": 250, "total": 1000, "errors": 3}
        assert run["progress_ratio"] == 0.25
        assert run["metrics"] == {"rows_per_second": 812.5}
        job.progress(done=1000)
    run = collector.wait_for_run(job.run_id, lambda r: r["status"] == "succeeded")
    assert run["progress"]["done"] == 1000
    assert any(p["progress"] and p["progress"]["done"] == 250 for p in run["timeline"])


def test_it_receives_heartbeats_with_resources(collector):
    with Job("backup", connection=fast_connection(collector.url), heartbeat=0.2) as job:
        run = collector.wait_for_run(
            job.run_id,
            lambda r: r["resources"] and r["resources"]["memory_bytes"],
        )
        first_seen = run["last_event_at"]
        run = collector.wait_for_run(job.run_id, lambda r: r["last_event_at"] > first_seen)
    assert run["status"] == "running"
    assert run["resources"]["cpu_percent"] >= 0
    assert run["resources"]["memory_bytes"] > 10 * 1024 * 1024
    # Heartbeats keep the run alive but are not progress.
    assert run["progress"] is None
    assert run["last_progress_at"] == run["started_at"]


def test_it_groups_runs_by_custom_labels(collector, monkeypatch):
    monkeypatch.setenv("BATCHGATE_LABELS", "env=prod")
    connection = fast_connection(collector.url)
    with Job("backup", labels={"host": "db1"}, connection=connection) as first:
        pass
    with Job("backup", labels={"host": "db2"}, connection=connection) as second:
        pass
    for job, host in ((first, "db1"), (second, "db2")):
        run = collector.wait_for_run(job.run_id, lambda r: r["status"] == "succeeded")
        assert run["labels"] == {"env": "prod", "host": host}
    runs = get_json(f"{collector.url}/jobs/backup/runs")["runs"]
    assert [r["run_id"] for r in runs] == [second.run_id, first.run_id]  # newest first
