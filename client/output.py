"""Teeing a command's output: every byte passed on at once and unchanged, a copy looked at.

A `Pump` thread reads a pipe the command writes to and writes each chunk, as soon as it is
read, to the stream the command would have written to (our own stdout or stderr). Beside
that it keeps the last few KiB (for the stderr tail in a `fail` message) and, when a
progress regex is given, reads progress from the most recent matching line.

If our own output goes away (a closed pipe, as in `batchgate run ... | head`), the pump
closes its end of the command's pipe, so the command gets SIGPIPE / EPIPE just as it would
have without the wrapper.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import select
import threading
from collections.abc import Callable

from batchgate.client.config import METRIC_NAME

CHUNK = 65536
TAIL_BYTES = 8192
MAX_LINE = 65536
PROGRESS_GROUPS = ("done", "total", "percent", "errors")


class ProgressParser:
    """Reads progress (and custom metrics) from lines of output with one regex.

    Named groups `done`, `total`, `percent`, `errors` are progress; any other named group
    whose name is a valid metric name and whose text is a number becomes a metric.
    """

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._partial = b""

    def feed(self, data: bytes) -> re.Match[str] | None:
        """Take a chunk of output; return the match on its last matching complete line."""
        data = self._partial + data
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut < 0:
            self._partial = data[-MAX_LINE:]
            return None
        complete, self._partial = data[:cut], data[cut + 1 :][-MAX_LINE:]
        text = complete.decode("utf-8", "replace")
        # Only the latest progress matters: look from the end and stop at the first match.
        for line in reversed(re.split(r"[\r\n]", text)):
            match = self.pattern.search(line)
            if match is not None:
                return match
        return None

    def finish(self) -> re.Match[str] | None:
        """The last line, if the output did not end with a newline."""
        rest, self._partial = self._partial, b""
        if not rest:
            return None
        return self.pattern.search(rest.decode("utf-8", "replace"))


def match_values(match: re.Match[str]) -> tuple[dict[str, float], dict[str, float]]:
    """(progress, metrics) from a match's named groups; text that is not a number is skipped."""
    progress: dict[str, float] = {}
    metrics: dict[str, float] = {}
    for name, text in match.groupdict().items():
        value = parse_number(text)
        if value is None:
            continue
        if name in PROGRESS_GROUPS:
            progress[name] = value
        elif METRIC_NAME.match(name):
            metrics[name] = value
    return progress, metrics


def parse_number(text: str | None) -> float | None:
    """`1,234`, `12.5%`, `1_000` as numbers; whole numbers come back as ints."""
    if not text:
        return None
    cleaned = text.strip().replace(",", "").replace("_", "").rstrip("%")
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class Tail:
    """The last bytes of a stream, rendered as its last lines the way a terminal shows them."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self._limit = limit
        self._data = bytearray()
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._data += data
            if len(self._data) > 2 * self._limit:
                del self._data[: -self._limit]

    def lines(self, count: int, max_chars: int) -> list[str]:
        with self._lock:
            data = bytes(self._data[-self._limit :])
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        # A progress bar redraws its line with \r: keep what was left on screen.
        shown = [line.rsplit("\r", 1)[-1].rstrip() for line in text.split("\n")]
        shown = [line for line in shown if line]
        picked: list[str] = []
        size = 0
        for line in reversed(shown[-count:] if count > 0 else []):
            size += len(line) + 1
            if size > max_chars:
                break
            picked.append(line)
        return picked[::-1]


class Pump(threading.Thread):
    """Copies `source` (a pipe from the command) to `target`, feeding the copy to `observe`."""

    def __init__(self, source: int, target: int, observe: Callable[[bytes], None]) -> None:
        super().__init__(name=f"batchgate-pump-{target}", daemon=True)
        self._source = source
        self._target: int | None = target
        self._observe = observe

    def run(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self._source, CHUNK)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                if self._target is not None and not self._forward(data):
                    break
                # Looking at the output must never stop it flowing.
                with contextlib.suppress(Exception):
                    self._observe(data)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._source)

    def _forward(self, data: bytes) -> bool:
        view = memoryview(data)
        assert self._target is not None
        while view:
            try:
                written = os.write(self._target, view)
            except BlockingIOError:
                select.select([], [self._target], [])
                continue
            except InterruptedError:
                continue
            except OSError:
                # Our reader is gone: close the command's pipe so it sees EPIPE as it would have.
                self._target = None
                return False
            view = view[written:]
        return True
