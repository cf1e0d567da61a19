"""The scripts in docs/examples run against a real batchgate and record the runs they say."""

import shutil
import subprocess
import sys

import pytest

from tests.client.conftest import WORKTREE, get_json, subprocess_env, wait_until
from tests.client.runner import batchgate_run

EXAMPLES = WORKTREE / "docs" / "examples"


def run_example(collector, isolated_client, tmp_path, *arguments):
    return subprocess.run(
        [sys.executable, *arguments],
        env=subprocess_env(
            BATCHGATE_URL=collector.url,
            BATCHGATE_SPOOL_DIR=str(isolated_client),
            TMPDIR=str(tmp_path),
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def last_run(collector, job):
    def finished():
        runs = get_json(f"{collector.url}/jobs/{job}/runs")["runs"]
        return runs[0] if runs and runs[0]["status"] != "running" else None

    return wait_until(finished)


def test_it_runs_the_etl_then_the_report(collector, isolated_client, tmp_path):
    etl = run_example(
        collector, isolated_client, tmp_path, EXAMPLES / "etl_records.py", "--rows", "3000"
    )
    assert etl.returncode == 0, etl.stderr
    run = last_run(collector, "etl_orders")
    assert run["status"] == "succeeded"
    assert run["progress"]["done"] == 3000
    assert run["progress"]["total"] == 3000
    assert run["metrics"]["rows_per_second"] > 0

    report = run_example(collector, isolated_client, tmp_path, EXAMPLES / "report.py")
    assert report.returncode == 0, report.stderr
    run = last_run(collector, "orders_report")
    assert run["status"] == "succeeded"
    assert run["metrics"]["customers"] > 0
    assert (tmp_path / "orders-report.md").read_text().startswith("# Orders by customer")


def test_it_fails_the_report_without_a_database(collector, isolated_client, tmp_path):
    report = run_example(collector, isolated_client, tmp_path, EXAMPLES / "report.py")
    assert report.returncode == 1
    assert "FileNotFoundError" in report.stderr
    run = last_run(collector, "orders_report")
    assert run["status"] == "failed"
    assert run["message"].startswith("FileNotFoundError: no orders database")


def test_it_runs_the_computation(collector, isolated_client, tmp_path):
    result = run_example(
        collector, isolated_client, tmp_path, EXAMPLES / "compute_pi.py", "--iterations", "50000"
    )
    assert result.returncode == 0, result.stderr
    run = last_run(collector, "compute_pi")
    assert run["status"] == "succeeded"
    assert run["progress"]["percent"] == 100
    assert abs(run["metrics"]["pi_estimate"] - 3.14159) < 0.05


@pytest.mark.skipif(shutil.which("bash") is None, reason="the backup example is a bash script")
def test_it_runs_the_backup_through_batchgate_run(collector, isolated_client, tmp_path):
    source = tmp_path / "source"
    for n in range(25):
        (source / f"dir{n % 3}").mkdir(parents=True, exist_ok=True)
        (source / f"dir{n % 3}" / f"file{n}.txt").write_text("data\n" * n)
    result, _ = batchgate_run(
        "--job", "backup", "--progress-regex", r"(?P<done>\d+)/(?P<total>\d+) files", "--",
        str(EXAMPLES / "backup.sh"), str(source), str(tmp_path / "backups"),
        url=collector.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"25/25 files\n" in result.stdout
    run = last_run(collector, "backup")
    assert run["status"] == "succeeded"
    assert run["progress"]["done"] == 25
    assert len(list((tmp_path / "backups").glob("backup-*.tar.gz"))) == 1
