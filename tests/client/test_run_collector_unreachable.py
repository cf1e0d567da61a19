"""`batchgate run` with no collector: the command's exit code, quickly, events spooled."""

from tests.client.conftest import blackhole
from tests.client.runner import batchgate_run, python


def test_it_exits_with_the_command_code_quickly_when_nothing_listens(
    unused_url, isolated_client, tmp_path
):
    result, elapsed = batchgate_run(
        "--job", "backup", "--", *python("import sys; print('backed up'); sys.exit(4)"),
        url=unused_url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 4
    assert result.stdout == b"backed up\n"
    assert elapsed < 5
    assert b"events are kept in" in result.stderr
    [spooled] = isolated_client.glob("*/*.jsonl")
    assert '"event":"fail"' in spooled.read_text()


def test_it_exits_within_the_flush_timeout_when_the_collector_hangs(isolated_client, tmp_path):
    with blackhole() as url:
        result, elapsed = batchgate_run(
            "--job", "backup", "--flush-timeout", "1", "--", *python("print('ok')"),
            url=url, spool=isolated_client, cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0
    assert elapsed < 6


def test_it_runs_the_command_when_monitoring_is_misconfigured(
    unused_url, isolated_client, tmp_path
):
    result, _ = batchgate_run(
        "--job", "backups/db1", "--", *python("print('ran anyway')"),
        url=unused_url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == b"ran anyway\n"
    assert b"running the command unmonitored" in result.stderr


def test_it_refuses_to_guess_without_a_command(unused_url, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "backup", url=unused_url, spool=isolated_client, cwd=tmp_path
    )
    assert result.returncode == 2
    assert b"no command to run" in result.stderr
