"""`batchgate run` against a real batchgate: the run it records for a command."""

import signal

from tests.client.runner import batchgate_run, python


def test_it_records_a_failing_command_with_its_stderr_tail(collector, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "backup", "--label", "host=db1", "--run-id", "backup-1", "--",
        "sh", "-c", "echo 'tar: /srv: Cannot open: Permission denied' >&2; exit 2",
        url=collector.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    run = collector.wait_for_run("backup-1", lambda r: r["status"] == "failed")
    assert run["labels"] == {"host": "db1"}
    assert run["exit_code"] == 2
    assert run["message"] == (
        "exited with code 2; last lines of stderr:\ntar: /srv: Cannot open: Permission denied"
    )


def test_it_records_a_command_killed_by_a_signal(collector, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "backup", "--run-id", "backup-2", "--", "sh", "-c", "kill -TERM $$",
        url=collector.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 128 + signal.SIGTERM
    run = collector.wait_for_run("backup-2", lambda r: r["status"] == "failed")
    assert run["exit_code"] == 143
    assert run["message"].startswith("killed by signal SIGTERM")


def test_it_records_progress_printed_by_a_command(collector, isolated_client, tmp_path):
    command = (
        "import time\n"
        "for n in range(1, 4):\n"
        "    print(f'{n * 100}/300 rows', flush=True)\n"
        "    time.sleep(0.2)\n"
    )
    result, _ = batchgate_run(
        "--job", "import_rows", "--run-id", "import-1", "--progress-interval", "0.1",
        "--progress-regex", r"(?P<done>\d+)/(?P<total>\d+) rows", "--", *python(command),
        url=collector.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0
    run = collector.wait_for_run(
        "import-1", lambda r: r["timeline"] and r["timeline"][-1]["event"] == "success"
    )
    assert run["status"] == "succeeded"
    assert run["progress"]["done"] == 300
    assert run["progress_ratio"] == 1.0
    assert any(p["event"] == "progress" and p["progress"] for p in run["timeline"])
