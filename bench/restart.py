"""A restart on an existing history: from the process's start to /-/ready, and the restore's steps.

    python bench/restart.py DATA_DIR [--runs 5] [--pythonpath DIR]

Starts a server on DATA_DIR in place (a copy would still be written back to the disk while
the server starts), times it from the process's start until /-/ready answers 200 (it then
serves every route), takes the restore's own log line (the time of each step), and stops it
cleanly; `--runs` times. Make the history with `python bench/history_scale.py --keep DIR`.
`--pythonpath DIR` puts DIR first on the server's PYTHONPATH, to measure another checkout
(a tree of links, as `.ci/dev-tree` makes one); alternate two commands to compare two.
The directory is migrated by the first start of a newer schema: time another checkout on
a copy of its own.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from harness import REPO, free_port, machine

STEPS = re.compile(r"restored .* in ([\d.]+) s \((.*)\)")


def restart(data: Path, pythonpath: str | None) -> tuple[float, str]:
    """Seconds from the start to /-/ready, and the restore's steps as the log gives them."""
    port = free_port()
    paths = (pythonpath, os.environ.get("PYTHONPATH"), str(REPO))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "batchgate", "serve", "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(data)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            ready = _ready_after(f"http://127.0.0.1:{port}/-/ready", started, process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
        log.seek(0)
        found = STEPS.search(log.read().decode(errors="replace"))
    steps = f"{found.group(1)} s: {found.group(2)}" if found else "(no restore line)"
    return ready, steps


def _ready_after(url: str, started: float, process: subprocess.Popen[bytes]) -> float:
    while process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    sys.exit(f"the server ended with {process.returncode} before it was ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a data directory holding a history")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pythonpath", help="put DIR first on the server's PYTHONPATH")
    args = parser.parse_args()
    if not (args.data / "batchgate.db").exists():
        sys.exit(f"{args.data} holds no batchgate.db: make one with bench/history_scale.py --keep")
    print(f"Machine: {machine()}; a restart on {args.data}, in place.\n")
    print("| run | start to /-/ready | the restore (its steps) |")
    print("| ---: | ---: | --- |")
    for number in range(1, args.runs + 1):
        ready, steps = restart(args.data, args.pythonpath)
        print(f"| {number} | {ready:.2f} s | {steps} |")


if __name__ == "__main__":
    main()
