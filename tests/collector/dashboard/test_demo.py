"""`batchgate demo` fills a real server with every kind of job the dashboards show."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers import IMPORT_ROOT, REPO, ServerProcess, free_port


def _demo(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "batchgate", "demo", *arguments],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": IMPORT_ROOT, "BATCHGATE_SPOOL_DIR": "off"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as answer:
        return json.loads(answer.read())


def _jobs(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    jobs = _get(url, "/jobs?limit=1000&kind=batch")["jobs"]
    return {
        (j["job"], ",".join(f"{k}={v}" for k, v in sorted(j["labels"].items()))): j for j in jobs
    }


def _wait_for(check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not met within {within:.0f}s"
        time.sleep(0.5)


def _stop(demo: subprocess.Popen[str]) -> str:
    demo.send_signal(signal.SIGTERM)
    output, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, output
    return output


def test_it_runs_every_kind_of_job_against_a_server(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process()
    demo = _demo("--url", server.url, "--duration", "120")
    seen: dict[tuple[str, str], dict[str, Any]] = {}

    alerts: set[tuple[str, str]] = set()
    groups: set[tuple[str, str]] = set()

    def every_kind_shows() -> bool:
        seen.update(_jobs(server.url))
        status = {key: job["status"] for key, job in seen.items()}
        alerts.update((a["alertname"], a["job"]) for a in _get(server.url, "/alerts")["alerts"])
        groups.update(
            (g["labels"]["job"], g["labels"].get("instance", ""))
            for g in _get(server.url, "/api/v1/metrics")["data"]
        )
        return (
            status.get(("backup_db", "host=db2")) == "failed"
            and status.get(("import_customers", "")) == "stuck"
            and status.get(("cleanup_tmp", "")) == "lost"
            and status.get(("compute_pi", "")) == "running"
            and all(key in status for key in EXPECTED)
            # Every default rule fires.
            and {
                ("JobFailed", "backup_db"),
                ("JobStuck", "import_customers"),
                ("JobLost", "cleanup_tmp"),
            }
            <= alerts
            # Pushgateway clients push their groups.
            and {("db_dump", "db1"), ("db_dump", "db2"), ("nightly_export", "retired-host")}
            <= groups
        )

    try:
        _wait_for(every_kind_shows, within=60)
    finally:
        output = _stop(demo)
    assert "jobs are running" in output
    # Missed its schedule: the last success is two hours old.
    last = seen["sync_invoices", ""]["last_success_at"]
    assert time.time() - _seconds(last) > 2 * 3600 - 60
    # A week of history behind each job.
    assert seen["etl_orders", "region=eu"]["runs"]["succeeded"] > 100
    # ETL reports records, the computation a percentage.
    etl = [job for key, job in seen.items() if key[0] == "etl_orders"]
    assert any(j["last_run"]["progress"] and j["last_run"]["progress"]["total"] for j in etl)
    # The task queue backs up: its burst waits behind the one worker.
    (emails,) = _get(server.url, "/queues")["queues"]
    assert emails["queue"] == "emails"
    assert emails["waiting"] + emails["last_hour"]["completed"] >= 50


EXPECTED = {
    ("etl_orders", "region=eu"), ("etl_orders", "region=us"), ("analytics_daily", ""),
    ("backup_db", "host=db1"), ("backup_db", "host=db2"), ("report_weekly", ""),
    ("compute_pi", ""), ("sync_invoices", ""), ("cleanup_tmp", ""), ("import_customers", ""),
}  # fmt: skip


def _seconds(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def test_without_a_url_it_starts_a_server_and_removes_it_after(tmp_path: Path) -> None:
    port = free_port()
    demo = _demo("--listen", f"127.0.0.1:{port}", "--duration", "600")
    assert demo.stdout is not None
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if "jobs are running" in line:
            break
    started = "".join(lines)
    match = re.search(r"a server is running at (http://\S+)/ \(data in (\S+)\)", started)
    assert match, started
    url, data = match.group(1), Path(match.group(2))
    assert url == f"http://127.0.0.1:{port}"
    assert ("backup_db", "host=db1") in _jobs(url)
    # Its server has the demo's rules: sync_invoices has not succeeded for two hours.
    deadline = time.monotonic() + 30
    while "ScheduleMissed" not in {a["alertname"] for a in _get(url, "/alerts")["alerts"]}:
        assert time.monotonic() < deadline, "ScheduleMissed did not fire"
        time.sleep(0.2)
    assert _jobs(url)["sync_invoices", ""]["status"] == "late"
    output = started + _stop(demo)
    assert "stopped" in output
    assert not data.exists()


def test_a_burst_of_signals_stops_it_cleanly() -> None:
    """`timeout` signals the demo and its process group at once; an impatient Ctrl-C
    comes twice. The demo stops, its server and its data gone, whatever the count."""
    demo = _demo("--listen", f"127.0.0.1:{free_port()}", "--duration", "600")
    assert demo.stdout is not None
    started = ""
    for line in demo.stdout:
        started += line
        if "jobs are running" in line:
            break
    match = re.search(r"\(data in (\S+)\)", started)
    assert match, started
    try:
        # Signals without a pause until it has ended (or 10 s), so that some arrive while
        # it is stopping, whatever it holds then.
        deadline = time.monotonic() + 10
        while demo.poll() is None and time.monotonic() < deadline:
            demo.send_signal(signal.SIGTERM)
            demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=30)
    finally:
        demo.kill()
    assert demo.returncode == 0, output
    assert "batchgate demo: stopped" in output
    assert not Path(match.group(1)).exists()
