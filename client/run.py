"""`batchgate run`: run any command as a monitored job, and exit with its exit code.

    batchgate run --job backup --label host=db1 -- ./backup.sh --full

The command keeps our stdin; its stdout is passed through untouched (it is teed only when
progress is read from it), and its stderr is teed so its last lines can explain a failure.
Teeing copies every byte as soon as it is read, unchanged. The command's whole process
tree is sampled for heartbeats. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are
passed on to it. The exit code is the command's (128 + N when a signal N killed it, as
shells report it), whatever happens to monitoring: a collector that is down, slow or
refusing, or a mistake in the monitoring options, costs the monitoring and never the run.

Only the standard library and `client` are imported here, so this works on a machine
where nothing but the `client` package was copied (`python -m batchgate run ...`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from batchgate.client.config import Connection, parse_labels
from batchgate.client.job import Job
from batchgate.client.output import ProgressParser, Pump, Tail, match_values
from batchgate.client.resources import ProcessTreeSampler
from batchgate.client.sender import shutdown

logger = logging.getLogger("batchgate.client")

FORWARDED_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
TERMINAL_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGQUIT", "SIGHUP") if hasattr(signal, name)
)
"""Signals a terminal sends to its whole foreground process group, the command included."""
CANCELLING_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
OUTPUT_GRACE_SECONDS = 2.0
"""After the command exits, how long to wait for processes it left behind to close its output."""
MESSAGE_CHARS = 3500
STDOUT, STDERR = 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchgate run",
        description="Run COMMAND as a monitored batch job and exit with its exit code.",
        epilog=(
            "Environment: BATCHGATE_URL, BATCHGATE_TOKEN, BATCHGATE_LABELS (k=v,k2=v2), "
            "BATCHGATE_SPOOL_DIR. The command sees BATCHGATE_JOB and BATCHGATE_RUN_ID."
        ),
    )
    parser.add_argument("--job", metavar="NAME", help="the job's name (required)")
    parser.add_argument(
        "--label",
        metavar="K=V",
        action="append",
        default=[],
        help="a grouping label; repeat for more (merged over BATCHGATE_LABELS)",
    )
    parser.add_argument("--url", help="the collector (default: BATCHGATE_URL or 127.0.0.1:9091)")
    parser.add_argument(
        "--progress-regex",
        metavar="REGEX",
        help="read progress from output lines: named groups done, total, percent, errors; "
        "other named groups become metrics, e.g. '(?P<done>\\d+)/(?P<total>\\d+) rows'",
    )
    parser.add_argument(
        "--progress-from",
        choices=("stdout", "stderr", "both"),
        default="both",
        help="which output the regex reads (default: both)",
    )
    parser.add_argument(
        "--progress-interval",
        metavar="S",
        type=float,
        default=1.0,
        help="at most one progress event per this many seconds (default 1)",
    )
    parser.add_argument(
        "--heartbeat",
        metavar="S",
        type=float,
        default=30.0,
        help="seconds between heartbeats with the command's CPU, memory and I/O (default 30)",
    )
    parser.add_argument(
        "--lost-after",
        metavar="S",
        type=float,
        help="silence after which the collector declares the run lost "
        "(default: 4 heartbeats, at least 60 s)",
    )
    parser.add_argument(
        "--schedule",
        metavar="CRON",
        help="declare the job's schedule (5-field cron, e.g. '0 2 * * *'): the collector "
        "alerts when a scheduled run does not start, with no rules file",
    )
    parser.add_argument(
        "--timezone", metavar="TZ", help="the schedule's time zone (IANA name; default UTC)"
    )
    parser.add_argument(
        "--grace",
        metavar="DURATION",
        help="how late after a scheduled time a run may start (e.g. 30m; default 0)",
    )
    parser.add_argument(
        "--max-runtime",
        metavar="DURATION",
        help="declare the longest a run may take (e.g. 2h): longer alerts",
    )
    parser.add_argument(
        "--finish-within",
        metavar="DURATION",
        help="with --schedule: how long after its scheduled time a run must have succeeded "
        "(e.g. 4h)",
    )
    parser.add_argument(
        "--tail-lines",
        metavar="N",
        type=int,
        default=20,
        help="lines of stderr sent as the message of a failed run (default 20, 0 for none)",
    )
    parser.add_argument("--run-id", metavar="ID", help="this run's id (default: a random one)")
    parser.add_argument(
        "--flush-timeout",
        metavar="S",
        type=float,
        help="the most to wait at the end to deliver events (default 5; the rest is spooled)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="report monitoring problems only as errors"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    return parser


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options before `--`, the command after it (or from the first non-option)."""
    parser = build_parser()
    argv = list(argv)
    if "--" in argv:
        split = argv.index("--")
        args = parser.parse_args(argv[:split])
        command = argv[split + 1 :]
    else:
        args = parser.parse_args(argv)
        command = list(args.command)
    if args.command and "--" in argv:
        parser.error(f"unexpected arguments before --: {' '.join(args.command)}")
    if not command:
        parser.error("no command to run (usage: batchgate run --job NAME -- COMMAND [ARGS...])")
    return args, command


def main(argv: Sequence[str] | None = None) -> int:
    """The `batchgate run` command: returns the exit code to exit with.

    `argv` is what follows `run` on the command line (default: sys.argv, minus a leading
    "run"). Usage errors exit with 2 (argparse's SystemExit) before anything is run.
    """
    if argv is None:
        argv = sys.argv[1:]
        if argv[:1] == ["run"]:
            argv = argv[1:]
    args, command = parse_arguments(argv)
    _setup_logging(args.quiet)
    sampler = ProcessTreeSampler()
    job = _make_job(args, sampler)
    parser = _make_progress_parser(args.progress_regex)
    runner = CommandRunner(command, job, parser, args.progress_from, args.tail_lines)
    try:
        return runner.run(sampler)
    finally:
        _finish_monitoring(args.flush_timeout)


def _setup_logging(quiet: bool) -> None:
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR if quiet else logging.WARNING)
    logger.propagate = False


def _make_job(args: argparse.Namespace, sampler: ProcessTreeSampler) -> Job | None:
    """The monitored run, or None (and an error message) when the options are unusable."""
    if not args.job:
        logger.error("batchgate: --job NAME is missing; running the command unmonitored")
        return None
    try:
        labels: dict[str, str] = {}
        for text in args.label:
            labels.update(parse_labels(text))
        return Job(
            args.job,
            labels,
            run_id=args.run_id,
            heartbeat=args.heartbeat,
            progress_interval=args.progress_interval,
            lost_after=args.lost_after,
            connection=Connection.resolve(args.url, flush_timeout=args.flush_timeout),
            sampler=sampler,
            schedule=args.schedule,
            timezone=args.timezone,
            grace=args.grace,
            max_runtime=args.max_runtime,
            finish_within=args.finish_within,
        )
    except ValueError as error:
        logger.error("batchgate: %s; running the command unmonitored", error)
        return None


def _make_progress_parser(pattern: str | None) -> ProgressParser | None:
    if not pattern:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        logger.error("batchgate: --progress-regex is not a valid regex (%s); ignored", error)
        return None
    if not compiled.groupindex:
        logger.error(
            "batchgate: --progress-regex has no named group (?P<done>...), (?P<total>...), "
            "(?P<percent>...) or (?P<errors>...); ignored"
        )
        return None
    return ProgressParser(compiled)


def _finish_monitoring(flush_timeout: float | None) -> None:
    try:
        shutdown(flush_timeout)
    except Exception:
        logger.exception("batchgate: error while delivering the last events")


class CommandRunner:
    """Runs one command with its output teed, its signals forwarded, and its run reported."""

    def __init__(
        self,
        command: list[str],
        job: Job | None,
        parser: ProgressParser | None,
        progress_from: str,
        tail_lines: int,
    ) -> None:
        self.command = command
        self.job = job
        self.parser = parser
        self.progress_from = progress_from
        self.tail_lines = tail_lines
        self.stderr_tail = Tail()
        self.received: list[int] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._parser_lock = threading.Lock()

    def run(self, sampler: ProcessTreeSampler) -> int:
        job = self.job
        if job is not None:
            job.start()
        read_stdout = self.parser is not None and self.progress_from in ("stdout", "both")
        # Handlers first, so a signal that comes while the command starts is not lost; the
        # command itself starts with the dispositions we inherited (exec resets handlers).
        previous = self._forward_signals()
        try:
            try:
                process = subprocess.Popen(
                    self.command,
                    stdout=subprocess.PIPE if read_stdout else None,
                    stderr=subprocess.PIPE,
                    env=self._environment(),
                )
            except OSError as error:
                return self._could_not_start(error)
            self._process = process
            sampler.watch(process.pid)
            for signum in list(self.received):  # arrived before there was anyone to pass it to
                self._pass_on(signum)
            pumps = self._start_pumps(process, read_stdout)
            returncode = self._wait(process)
            deadline = time.monotonic() + OUTPUT_GRACE_SECONDS
            for pump in pumps:
                pump.join(max(0.0, deadline - time.monotonic()))
            self._read_last_progress()
            code = returncode if returncode >= 0 else 128 - returncode
            self._report(returncode, code)
            return code
        finally:
            self._restore_signals(previous)

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.job is not None:
            env["BATCHGATE_JOB"] = self.job.name
            env["BATCHGATE_RUN_ID"] = self.job.run_id
        return env

    def _could_not_start(self, error: OSError) -> int:
        # The codes a shell uses: 127 not found, 126 found but not executable.
        code = 127 if isinstance(error, FileNotFoundError) else 126
        reason = "command not found" if code == 127 else (error.strerror or str(error))
        message = f"batchgate run: {self.command[0]}: {reason}"
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        if self.job is not None:
            self.job.fail(message, exit_code=code)
        return code

    def _start_pumps(self, process: subprocess.Popen[bytes], read_stdout: bool) -> list[Pump]:
        pumps = []
        if read_stdout and process.stdout is not None:
            pumps.append(Pump(_detach(process.stdout), STDOUT, self._on_stdout))
        if process.stderr is not None:
            pumps.append(Pump(_detach(process.stderr), STDERR, self._on_stderr))
        for pump in pumps:
            pump.start()
        return pumps

    def _on_stdout(self, data: bytes) -> None:
        self._read_progress(data)

    def _on_stderr(self, data: bytes) -> None:
        self.stderr_tail.feed(data)
        if self.progress_from in ("stderr", "both"):
            self._read_progress(data)

    def _read_progress(self, data: bytes) -> None:
        if self.parser is None or self.job is None:
            return
        with self._parser_lock:
            match = self.parser.feed(data)
        if match is not None:
            self._apply(match)

    def _read_last_progress(self) -> None:
        if self.parser is None or self.job is None:
            return
        with self._parser_lock:
            match = self.parser.finish()
        if match is not None:
            self._apply(match)

    def _apply(self, match: re.Match[str]) -> None:
        assert self.job is not None
        progress, metrics = match_values(match)
        if progress:
            self.job.progress(**progress)
        for name, value in metrics.items():
            self.job.metric(name, value)

    def _wait(self, process: subprocess.Popen[bytes]) -> int:
        while True:
            try:
                return process.wait()
            except InterruptedError:
                continue

    def _report(self, returncode: int, code: int) -> None:
        job = self.job
        if job is None:
            return
        if returncode == 0:
            job.success()
            return
        if returncode < 0:
            summary = f"killed by signal {_signal_name(-returncode)} (exit code {code})"
        else:
            summary = f"exited with code {code}"
        lines = self.stderr_tail.lines(self.tail_lines, MESSAGE_CHARS)
        message = summary + ("; last lines of stderr:\n" + "\n".join(lines) if lines else "")
        cancelled = [s for s in self.received if s in CANCELLING_SIGNALS]
        if cancelled:
            job.cancel(f"cancelled by {_signal_name(cancelled[0])}: {message}", exit_code=code)
        else:
            job.fail(message, exit_code=code)

    # -- signals ---------------------------------------------------------------------------

    def _forward_signals(self) -> dict[int, signal.Handlers | Callable[..., object] | int | None]:
        previous: dict[int, signal.Handlers | Callable[..., object] | int | None] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous  # signals can only be handled on the main thread
        for signum in FORWARDED_SIGNALS:
            with contextlib.suppress(OSError, ValueError):
                # Ignored for us (nohup, a background job): left ignored, for the command too.
                if signal.getsignal(signum) == signal.SIG_IGN:
                    continue
                previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _restore_signals(
        self, previous: dict[int, signal.Handlers | Callable[..., object] | int | None]
    ) -> None:
        for signum, handler in previous.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self._pass_on(signum)

    def _pass_on(self, signum: int) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        if signum in TERMINAL_SIGNALS and _terminal_sent_to_our_group():
            return  # the command is in our process group: it got this signal from the terminal
        with contextlib.suppress(OSError):
            process.send_signal(signum)


def _terminal_sent_to_our_group() -> bool:
    """True when we are in the foreground process group of our controlling terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False  # no controlling terminal: the signal came from a process, pass it on
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _detach(stream: object) -> int:
    """The file descriptor of a Popen pipe, taken over from its file object."""
    fd = os.dup(stream.fileno())  # type: ignore[attr-defined]
    stream.close()  # type: ignore[attr-defined]
    return fd


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
