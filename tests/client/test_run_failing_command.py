"""`batchgate run` keeps a failing command's exit code and reports its stderr tail."""

from tests.client.runner import batchgate_run, python

FAILING = """
import sys
print("loaded 10 rows")
for n in range(30):
    print(f"warning {n}", file=sys.stderr)
print("psycopg2.OperationalError: connection refused", file=sys.stderr)
sys.exit(3)
"""


def test_it_exits_with_the_command_code_and_reports_the_stderr_tail(
    receiver, isolated_client, tmp_path
):
    result, _ = batchgate_run(
        "--job", "etl", "--label", "env=prod", "--", *python(FAILING),
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stdout == b"loaded 10 rows\n"
    assert result.stderr.endswith(b"warning 29\npsycopg2.OperationalError: connection refused\n")
    # Delivered before the wrapper exited.
    start, fail = receiver.events
    assert (start["event"], fail["event"]) == ("start", "fail")
    assert start["labels"] == fail["labels"] == {"env": "prod"}
    assert fail["exit_code"] == 3
    lines = fail["message"].splitlines()
    assert lines[0] == "exited with code 3; last lines of stderr:"
    assert lines[1:] == [f"warning {n}" for n in range(11, 30)] + [
        "psycopg2.OperationalError: connection refused"
    ]


def test_it_reports_success_for_exit_code_zero(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "etl", "--", *python("print('ok')"),
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0
    assert [e["event"] for e in receiver.events] == ["start", "success"]


def test_it_reports_a_command_that_cannot_start(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "etl", "--", "./no-such-script.sh",
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 127
    assert b"no-such-script.sh: command not found" in result.stderr
    fail = receiver.of("fail")[0]
    assert fail["exit_code"] == 127


def test_it_gives_the_command_its_run_id(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "etl", "--run-id", "etl-2024-05-01", "--",
        *python("import os; print(os.environ['BATCHGATE_JOB'], os.environ['BATCHGATE_RUN_ID'])"),
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.stdout == b"etl etl-2024-05-01\n"
    assert {e["run_id"] for e in receiver.events} == {"etl-2024-05-01"}
