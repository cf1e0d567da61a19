"""`batchgate run --progress-regex` reads progress (and metrics) from the command's output."""

from tests.client.runner import batchgate_run, python

PRINTS_PROGRESS = """
import sys, time
for done in range(1, 6):
    print(f"processed {done}/5 files, {done * 1.5} MB", flush=True)
    time.sleep(0.15)  # the command's own pace: progress events are one per interval
print("progress 100% (errors: 2)", file=sys.stderr, end="")
"""


def test_it_reads_progress_from_the_output(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "sync", "--progress-interval", "0.1", "--progress-regex",
        r"processed (?P<done>\d+)/(?P<total>\d+) files, (?P<megabytes>[\d.]+) MB"
        r"|progress (?P<percent>\d+)% \(errors: (?P<errors>\d+)\)",
        "--", *python(PRINTS_PROGRESS),
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0
    # Teed, not altered: the bytes the command wrote, in order.
    assert result.stdout == b"".join(
        f"processed {n}/5 files, {n * 1.5} MB\n".encode() for n in range(1, 6)
    )
    assert result.stderr == b"progress 100% (errors: 2)"
    progress = receiver.of("progress")
    assert progress, "at least one progress event during the run"
    assert all(e["progress"]["total"] == 5 for e in progress if "done" in e["progress"])
    success = receiver.of("success")[0]
    assert success["progress"] == {"done": 5, "total": 5, "percent": 100, "errors": 2}
    assert success["metrics"] == {"megabytes": 7.5}


def test_it_runs_the_command_even_when_the_regex_is_wrong(receiver, isolated_client, tmp_path):
    result, _ = batchgate_run(
        "--job", "sync", "--progress-regex", "(?P<done>", "--", *python("print('still ran')"),
        url=receiver.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == b"still ran\n"
    assert b"--progress-regex is not a valid regex" in result.stderr
    assert receiver.of("success")
