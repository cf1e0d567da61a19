"""`batchgate run` and signals: a killed command, and signals passed on to the command."""

import os
import pty
import signal
import subprocess
import sys

from tests.client.conftest import subprocess_env, wait_until
from tests.client.runner import batchgate_run, python

WAITS_FOR_A_SIGNAL = """
import signal, sys, time
def stop(signum, frame):
    print(f"got {signal.Signals(signum).name}", file=sys.stderr, flush=True)
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGUSR1, lambda s, f: print("got SIGUSR1", flush=True))
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def test_it_reports_a_command_killed_by_a_signal(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "etl", "--", "sh", "-c", "echo dying >&2; kill -KILL $$",
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 128 + signal.SIGKILL
    fail = receiver.of("fail")[0]
    assert fail["exit_code"] == 137
    assert (
        fail["message"] == "killed by signal SIGKILL (exit code 137); last lines of stderr:\ndying"
    )


def test_it_passes_signals_on_and_reports_a_cancel(receiver, isolated_client, tmp_path):
    wrapper = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchgate",
            "run",
            "--job",
            "etl",
            "--",
            *python(WAITS_FOR_A_SIGNAL),
        ],
        env=subprocess_env(BATCHGATE_URL=receiver.url, BATCHGATE_SPOOL_DIR=str(isolated_client)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no terminal: signals reach the wrapper only
    )
    assert wrapper.stdout is not None
    assert wrapper.stdout.readline() == b"ready\n"
    wrapper.send_signal(signal.SIGUSR1)
    assert wrapper.stdout.readline() == b"got SIGUSR1\n"
    wrapper.send_signal(signal.SIGTERM)
    _stdout, stderr = wrapper.communicate(timeout=30)
    assert wrapper.returncode == 128 + signal.SIGTERM
    assert stderr == b"got SIGTERM\n"
    cancel = wait_until(lambda: receiver.of("cancel"))[0]
    assert cancel["exit_code"] == 143
    assert cancel["message"].startswith("cancelled by SIGTERM: killed by signal SIGTERM")


def test_it_leaves_ignored_signals_ignored(receiver, isolated_client, tmp_path):
    # Like `nohup`: SIGHUP ignored for the wrapper stays ignored for the command.
    code = "import signal; print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)"
    result, _ = batchgate_run(
        "--job", "etl", "--", *python(code),
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    assert result.stdout == b"True\n"
    assert os.name == "posix"


COUNTS_SIGINTS = """
import os, signal, sys, time
# The wakeup fd gets one byte per signal delivered, even when Python would run its handler
# once for two signals close together: the true count of deliveries.
read_end, write_end = os.pipe()
os.set_blocking(write_end, False)
signal.set_wakeup_fd(write_end)
signal.signal(signal.SIGINT, lambda signum, frame: None)
print("ready", flush=True)
first = os.read(read_end, 1)
deadline = time.monotonic() + 0.5  # a duplicate, if any, follows within milliseconds
os.set_blocking(read_end, False)
count = len(first)
while time.monotonic() < deadline:
    try:
        count += len(os.read(read_end, 16))
    except BlockingIOError:
        time.sleep(0.01)
print(f"sigints={count}", flush=True)
sys.exit(130)
"""


def test_it_does_not_double_a_ctrl_c_from_the_terminal(receiver, isolated_client, tmp_path):
    # Ctrl-C in a terminal signals the whole foreground group: the command already has it.
    env = subprocess_env(BATCHGATE_URL=receiver.url, BATCHGATE_SPOOL_DIR=str(isolated_client))
    argv = [sys.executable, "-m", "batchgate", "run", "--job", "etl", "--", *python(COUNTS_SIGINTS)]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.chdir(tmp_path)
        os.execve(sys.executable, argv, env)
    output = b""
    try:
        while b"ready" not in output:
            output += os.read(terminal, 1024)
        os.write(terminal, b"\x03")  # what the Ctrl-C key sends
        while True:
            try:
                chunk = os.read(terminal, 1024)
            except OSError:  # EIO: every process on the terminal has gone
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    assert b"sigints=1" in output
    assert os.waitstatus_to_exitcode(status) == 130
    # (Once seen missing in a run of the whole suite on a loaded machine: say what the
    # wrapper printed, and, when the wait ends, what it spooled and what arrived.)
    cancel = wait_until(
        lambda: receiver.of("cancel"),
        what=lambda: (
            f"the cancel; the terminal showed {output[-600:]!r}; "
            f"the spool holds {sorted(p.name for p in isolated_client.rglob('*'))}; "
            f"the receiver got {[(e['event'], e.get('message')) for e in receiver.events]}"
        ),
    )[0]
    assert cancel["message"].startswith("cancelled by SIGINT")
