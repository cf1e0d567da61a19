"""`batchgate run` leaves the command's stdin, stdout and stderr bytes exactly as they were."""

import signal
import subprocess
import sys

from tests.client.conftest import subprocess_env, wait_until
from tests.client.runner import batchgate_run, python

BINARY = bytes(range(256)) * 64 + b"\r\n\rno newline at the end \xff\xfe"

ECHO_BOTH = """
import sys
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(data)
sys.stderr.buffer.write(data[::-1])
"""


def test_it_passes_every_byte_through_unchanged(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "copy", "--progress-regex", r"(?P<done>\d+)", "--", *python(ECHO_BOTH),
        url=receiver.url, spool=isolated_client, cwd=tmp_path, input=BINARY,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == BINARY
    assert result.stderr == BINARY[::-1]


def test_it_does_not_touch_stdout_without_a_progress_regex(receiver, isolated_client, tmp_path):
    # The command's stdout is our own file, not a pipe: nothing between them.
    code = "import os, stat; print(stat.S_ISREG(os.fstat(1).st_mode))"
    with open(tmp_path / "out.txt", "wb") as out:
        result, _ = batchgate_run(
            "--job", "copy", "--", *python(code),
            url=receiver.url, spool=isolated_client, cwd=tmp_path, stdout=out,
        )  # fmt: skip
    assert result.returncode == 0
    assert (tmp_path / "out.txt").read_bytes() == b"True\n"


def test_it_gives_sigpipe_to_a_command_whose_reader_left(receiver, isolated_client, tmp_path):
    # `batchgate run --progress-regex ... -- yes | head -1`: as without the wrapper, `yes`
    # dies of SIGPIPE once the reader has gone, rather than running forever.
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "batchgate", "run", "--job", "yes", "--progress-regex",
         "(?P<done>y)", "--", "yes"],
        env=subprocess_env(BATCHGATE_URL=receiver.url, BATCHGATE_SPOOL_DIR=str(isolated_client)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert wrapper.stdout is not None
    assert wrapper.stdout.readline() == b"y\n"
    wrapper.stdout.close()
    assert wrapper.wait(timeout=30) == 128 + signal.SIGPIPE
    assert wait_until(lambda: receiver.of("fail"))[0]["exit_code"] == 141
