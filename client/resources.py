"""What a process (or a whole process tree) is using: CPU percent, resident memory, I/O bytes.

- CPU percent is the CPU time used since the previous sample divided by the wall time
  between them, like psutil's `Process.cpu_percent()`: 100 is one core fully busy, a
  process using four cores reads 400.
- Memory is the resident set size (RSS); for a tree, the sum of its processes' RSS (pages
  shared between them are counted once per process, as `ps` would).
- I/O bytes are the bytes really read from and written to storage (`read_bytes` and
  `write_bytes` of /proc/PID/io, which include the process's waited-for children); reads
  served from the page cache do not count.

Linux reads /proc. Elsewhere psutil is used if it is installed (imported lazily, on the
sender thread, never by `import client`); without it, own memory comes from
`resource.getrusage` (its peak, not current, RSS) and a tree is read with `ps`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import threading
import time
from types import ModuleType
from typing import Protocol

Resources = dict[str, float]
MIN_CPU_WINDOW = 0.5
"""Seconds: a CPU percent over a shorter window repeats the previous figure."""

_PROC = "/proc"
_ON_LINUX = sys.platform.startswith("linux") and os.path.isdir("/proc/self")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class ResourceSampler(Protocol):
    def sample(self) -> Resources:
        """The resources in use now (CPU percent since the previous call). Never raises."""
        ...


def _psutil() -> ModuleType | None:
    if "psutil" in sys.modules:
        return sys.modules["psutil"]
    try:
        if importlib.util.find_spec("psutil") is None:
            return None
        return importlib.import_module("psutil")
    except Exception:
        return None


class _CpuRate:
    """Turns a cumulative CPU-seconds counter into a percent over the time between calls."""

    def __init__(self, cpu_seconds: float) -> None:
        self._cpu = cpu_seconds
        self._wall = time.monotonic()
        self._last: float | None = None

    def percent(self, cpu_seconds: float) -> float:
        wall = time.monotonic()
        elapsed = wall - self._wall
        if elapsed < MIN_CPU_WINDOW and self._last is not None:
            return self._last  # too short a window to mean anything (a finish right after a tick)
        used = cpu_seconds - self._cpu
        self._cpu, self._wall = cpu_seconds, wall
        # A tree loses CPU time when a process leaves it (re-parented to init): never negative.
        self._last = round(max(0.0, used) / elapsed * 100.0, 2) if elapsed > 0 else 0.0
        return self._last


class ProcessSampler:
    """This process's own resources (all its threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate = _CpuRate(time.process_time())

    def sample(self) -> Resources:
        with self._lock:
            resources: Resources = {"cpu_percent": self._rate.percent(time.process_time())}
        try:
            if _ON_LINUX:
                resources.update(_linux_memory_and_io("self"))
            else:
                resources.update(_portable_memory_and_io())
        except Exception:  # a sample is best effort; the CPU figure is enough
            pass
        return resources


def _linux_memory_and_io(pid: str) -> Resources:
    resources: Resources = {}
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open(f"{_PROC}/{pid}/statm", "rb") as statm,
    ):
        resources["memory_bytes"] = int(statm.read().split()[1]) * _PAGE_SIZE
    resources.update(_linux_io(pid))
    return resources


def _linux_io(pid: str) -> Resources:
    read = written = None
    with contextlib.suppress(OSError, ValueError), open(f"{_PROC}/{pid}/io", "rb") as io:
        for line in io:
            if line.startswith(b"read_bytes:"):
                read = int(line.split()[1])
            elif line.startswith(b"write_bytes:"):
                written = int(line.split()[1])
    if read is None or written is None:
        return {}
    return {"io_read_bytes": read, "io_write_bytes": written}


def _portable_memory_and_io() -> Resources:
    psutil = _psutil()
    if psutil is not None:
        process = psutil.Process()
        resources: Resources = {"memory_bytes": float(process.memory_info().rss)}
        with contextlib.suppress(Exception):
            counters = process.io_counters()
            resources["io_read_bytes"] = float(counters.read_bytes)
            resources["io_write_bytes"] = float(counters.write_bytes)
        return resources
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux and the BSDs, in bytes on macOS.
    return {"memory_bytes": float(peak if sys.platform == "darwin" else peak * 1024)}


class ProcessTreeSampler:
    """A process and all its descendants, summed: what `batchgate run` reports for a command.

    CPU time counts each live process's own time plus the time of the children it has
    already waited for (`cutime`, `cstime`), so work done by short-lived grandchildren is
    not lost between two samples.
    """

    def __init__(self, min_interval: float = 1.0) -> None:
        self.pid: int | None = None
        self._lock = threading.Lock()
        self._rate = _CpuRate(0.0)
        self._min_interval = min_interval
        self._last: Resources = {}
        self._last_at = -float("inf")

    def watch(self, pid: int) -> None:
        """Follow the tree under `pid`, a process that has just been started."""
        with self._lock:
            self._rate = _CpuRate(0.0)
            self._last, self._last_at = {}, -float("inf")
            self.pid = pid

    def sample(self) -> Resources:
        """The tree's resources; scanned at most once per `min_interval` (a scan reads the
        stat file of every process on the machine), the last figures repeated in between."""
        pid = self.pid
        if pid is None:
            return {}
        with self._lock:
            if time.monotonic() - self._last_at < self._min_interval:
                return dict(self._last)
        try:
            cpu_seconds, resources = self._read(pid)
        except Exception:
            return {}
        with self._lock:
            resources["cpu_percent"] = self._rate.percent(cpu_seconds)
            self._last, self._last_at = dict(resources), time.monotonic()
        return resources

    def _read(self, pid: int) -> tuple[float, Resources]:
        if _ON_LINUX:
            return _linux_tree(pid)
        psutil = _psutil()
        if psutil is not None:
            return _psutil_tree(psutil, pid)
        return _ps_tree(pid)


def _linux_tree(root: int) -> tuple[float, Resources]:
    stats: dict[int, tuple[int, int, int]] = {}  # pid -> (ppid, cpu ticks, rss pages)
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"{_PROC}/{entry.name}/stat", "rb") as stat:
                    text = stat.read()
            except OSError:
                continue  # exited meanwhile
            # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
            fields = text[text.rindex(b")") + 2 :].split()
            used = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            stats[int(entry.name)] = (int(fields[1]), used, int(fields[21]))
    tree = _descendants(root, {pid: ppid for pid, (ppid, _, _) in stats.items()})
    if not tree:
        raise ProcessLookupError(root)  # the command has exited: nothing to report
    ticks = rss = 0
    read = written = 0
    for pid in tree:
        if pid in stats:
            ticks += stats[pid][1]
            rss += stats[pid][2]
        io = _linux_io(str(pid))
        read += int(io.get("io_read_bytes", 0))
        written += int(io.get("io_write_bytes", 0))
    resources: Resources = {
        "memory_bytes": rss * _PAGE_SIZE,
        "io_read_bytes": read,
        "io_write_bytes": written,
    }
    return ticks / _CLOCK_TICKS, resources


def _descendants(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, stack = [], [root] if root in parents else []
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, ()))
    return tree


def _psutil_tree(psutil: ModuleType, root: int) -> tuple[float, Resources]:
    top = psutil.Process(root)
    cpu = 0.0
    resources: Resources = {"memory_bytes": 0.0, "io_read_bytes": 0.0, "io_write_bytes": 0.0}
    for process in [top, *top.children(recursive=True)]:
        with contextlib.suppress(Exception):
            times = process.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            resources["memory_bytes"] += process.memory_info().rss
        with contextlib.suppress(Exception):
            counters = process.io_counters()
            resources["io_read_bytes"] += counters.read_bytes
            resources["io_write_bytes"] += counters.write_bytes
    return cpu, resources


def _ps_tree(root: int) -> tuple[float, Resources]:
    import subprocess

    output = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,rss=,time="],
        capture_output=True,
        text=True,
        timeout=5,
        check=True,
    ).stdout
    parents: dict[int, int] = {}
    usage: dict[int, tuple[float, float]] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        pid, ppid = int(parts[0]), int(parts[1])
        parents[pid] = ppid
        usage[pid] = (parse_cpu_time(parts[3]), float(parts[2]) * 1024)
    tree = _descendants(root, parents)
    if not tree:
        raise ProcessLookupError(root)
    cpu = sum(usage[pid][0] for pid in tree)
    return cpu, {"memory_bytes": sum(usage[pid][1] for pid in tree)}


def parse_cpu_time(text: str) -> float:
    """`ps` TIME, `[[dd-]hh:]mm:ss[.ss]` (procps and BSD), in seconds."""
    days, _, clock = text.rpartition("-")
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds + (int(days) * 86400 if days else 0)
