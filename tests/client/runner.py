"""Running `python -m batchgate run ...` as a subprocess, as cron would run `batchgate run`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.client.conftest import subprocess_env


def batchgate_run(
    *arguments: str, url: str, spool: Path, cwd: Path, **options: Any
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run the wrapper to completion; return the result and how long it took."""
    env = subprocess_env(BATCHGATE_URL=url, BATCHGATE_SPOOL_DIR=str(spool))
    env.update(options.pop("env", {}))
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "batchgate", "run", *arguments],
        env=env,
        cwd=cwd,
        timeout=60,
        **options,
    )
    return result, time.monotonic() - started


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]
