"""Events waiting for an unreachable collector, kept in a local file until it answers again.

Layout: one directory per collector URL under the spool root, and in it one JSON-lines file
per process (`<pid>-<random>.jsonl`). A process holds an exclusive lock (flock) on its own
file for as long as it has it open, so a file that can be locked belongs to nobody: its
process has exited without delivering it, and the next process to reach the collector
adopts it, delivers it and deletes it. Events keep their original `timestamp` and
`event_id`, so a redelivery after a crash is applied once by the collector.

Files are created lazily, on the first failed delivery: a healthy job never touches the
disk. Writes are appended without fsync (the spool survives the process, not a power cut).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
import tempfile
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("batchgate.client")

LIFECYCLE_EVENTS = frozenset(("start", "success", "fail", "cancel"))
"""Kept even when the spool is full: a run's start and end matter more than its progress."""
MAX_LINE_BYTES = 1 << 20

try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

except ImportError:  # Windows: a byte-range lock far past any real data stands in for flock
    import msvcrt

    def _try_lock(fd: int) -> bool:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        try:
            os.lseek(fd, 1 << 30, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        finally:
            os.lseek(fd, position, os.SEEK_SET)
        return True


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def directory_name(url: str) -> str:
    """A readable, collision-free directory name for one collector URL."""
    parts = urlsplit(url)
    readable = "".join(c if c.isalnum() or c in ".-" else "_" for c in parts.netloc)[:60]
    return f"{readable or 'collector'}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


class SpoolFile:
    """One locked spool file: append at the end, read and drop from the front."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._head = 0
        """Bytes at the front already delivered (dropped lazily by `compact`)."""
        self.size = os.fstat(fd).st_size

    @property
    def pending(self) -> bool:
        return self.size > self._head

    def append(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)

    def peek(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` events from the front, and the offset to pass to `drop` once sent."""
        events: list[dict[str, Any]] = []
        offset = self._head
        with open(self._fd, "rb", closefd=False) as reader:
            reader.seek(offset)
            while len(events) < limit:
                line = reader.readline(MAX_LINE_BYTES)
                if not line.endswith(b"\n"):
                    break  # end of file, or a partial line from a crash: wait or ignore
                offset += len(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
        if not events and offset == self._head and self.size > offset:
            offset = self.size  # only an unterminated tail is left: nothing to deliver
        return events, offset

    def drop(self, offset: int) -> None:
        self._head = offset
        if self._head >= self.size:
            os.ftruncate(self._fd, 0)
            self._head = self.size = 0

    def compact(self) -> None:
        """Rewrite the file without its delivered front, so no later process resends it."""
        if self._head == 0:
            return
        os.lseek(self._fd, self._head, os.SEEK_SET)
        rest = b""
        while chunk := os.read(self._fd, 1 << 20):
            rest += chunk
        os.ftruncate(self._fd, 0)
        self._head = self.size = 0
        if rest:
            self.append([rest])

    def close(self, delete_if_empty: bool = True) -> None:
        if delete_if_empty and not self.pending:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        else:
            with contextlib.suppress(OSError):
                self.compact()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def forget(self) -> None:
        """Close without touching the file (after fork: the parent still owns it)."""
        with contextlib.suppress(OSError):
            os.close(self._fd)


class MemorySpool:
    """Stands in for the file when no spool directory is usable: same interface, bounded."""

    def __init__(self) -> None:
        self._lines: deque[bytes] = deque()
        self.size = 0

    @property
    def pending(self) -> bool:
        return bool(self._lines)

    def append(self, lines: list[bytes]) -> None:
        self._lines.extend(lines)
        self.size += sum(map(len, lines))

    def peek(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        count = min(limit, len(self._lines))
        return [json.loads(self._lines[i]) for i in range(count)], count

    def drop(self, offset: int) -> None:
        for _ in range(offset):
            self.size -= len(self._lines.popleft())

    def compact(self) -> None:
        pass


class Spool:
    """This process's backlog for one collector URL, and the way to other processes' leftovers."""

    def __init__(self, root: str | None, url: str, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._directories = _candidate_directories(root, url) if root else []
        self._file: SpoolFile | MemorySpool | None = None
        self._others_bytes = 0
        self.dropped = 0

    @property
    def pending(self) -> bool:
        return self._file is not None and self._file.pending

    @property
    def location(self) -> str:
        if isinstance(self._file, SpoolFile):
            return self._file.path
        return "memory" if self._file is not None else "(none yet)"

    def append(self, events: list[dict[str, Any]]) -> None:
        """Keep `events` for later. Over the size limit, progress events are dropped."""
        if not events:
            return
        backlog = self._open()
        lines = []
        used = backlog.size + self._others_bytes
        for event in events:
            line = encode(event)
            if used + len(line) > self._max_bytes and event.get("event") not in LIFECYCLE_EVENTS:
                self.dropped += 1
                continue
            used += len(line)
            lines.append(line)
        try:
            backlog.append(lines)
        except OSError as error:
            logger.warning(
                "batchgate: cannot write the spool file: %s; keeping events in memory", error
            )
            self._file = MemorySpool()
            self._file.append(lines)

    def peek(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        if self._file is None:
            return [], 0
        return self._file.peek(limit)

    def drop(self, offset: int) -> None:
        if self._file is not None:
            self._file.drop(offset)

    def compact(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.compact()

    def close(self) -> None:
        """Release this process's file; if events are left in it, the next process delivers them."""
        if isinstance(self._file, SpoolFile):
            self._file.close()
        self._file = None

    def forget(self) -> None:
        if isinstance(self._file, SpoolFile):
            self._file.forget()
        self._file = None

    def orphans(self) -> Iterator[SpoolFile]:
        """Locked spool files left by processes that have exited, oldest first.

        The caller delivers each and closes it (which deletes it when it is empty).
        """
        own = self._file.path if isinstance(self._file, SpoolFile) else None
        paths: list[tuple[float, str]] = []
        for directory in self._directories:
            with contextlib.suppress(OSError), os.scandir(directory) as entries:
                paths.extend(
                    (entry.stat().st_mtime, entry.path)
                    for entry in entries
                    if entry.name.endswith(".jsonl") and entry.path != own
                )
        for _, path in sorted(paths):
            adopted = _adopt(path)
            if adopted is not None:
                yield adopted

    def _open(self) -> SpoolFile | MemorySpool:
        if self._file is not None:
            return self._file
        for directory in self._directories:
            try:
                self._file = _create(directory)
            except OSError as error:
                logger.debug("batchgate: spool directory %s unusable: %s", directory, error)
                continue
            self._others_bytes = _directory_bytes(directory, self._file.path)
            return self._file
        if self._directories:
            logger.warning(
                "batchgate: no usable spool directory (%s); undelivered events are kept in memory",
                ", ".join(self._directories),
            )
        self._file = MemorySpool()
        return self._file


def _candidate_directories(root: str, url: str) -> list[str]:
    name = directory_name(url)
    return [os.path.join(os.path.expanduser(root), name), os.path.join(_private_temp_root(), name)]


def _private_temp_root() -> str:
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return os.path.join(tempfile.gettempdir(), f"batchgate-{user}")


def _check_private(directory: str) -> None:
    """Refuse a directory someone else could have planted (a shared /tmp)."""
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{directory} is not a directory")
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        raise OSError(f"{directory} is not a private directory owned by this user")


def _create(directory: str) -> SpoolFile:
    parent = os.path.dirname(directory)
    in_shared_temp = parent == _private_temp_root()
    if in_shared_temp:
        with contextlib.suppress(FileExistsError):
            os.mkdir(parent, 0o700)
        _check_private(parent)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if in_shared_temp:
        _check_private(directory)
    elif not os.path.isdir(directory):
        raise OSError(f"{directory} is not a directory")
    name = f"{os.getpid()}-{secrets.token_hex(4)}"
    temporary = os.path.join(directory, f".{name}.tmp")
    fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
    # Locked before it gets a name scanners look at, so no one can adopt a live file.
    if not _try_lock(fd):
        os.close(fd)
        raise OSError(f"cannot lock {temporary}")
    path = os.path.join(directory, f"{name}.jsonl")
    os.rename(temporary, path)
    return SpoolFile(path, fd)


def _adopt(path: str) -> SpoolFile | None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except OSError:
        return None
    try:
        # Locked: its owner is alive. Unlinked: another process delivered it meanwhile.
        if not _try_lock(fd) or os.fstat(fd).st_nlink == 0:
            os.close(fd)
            return None
        return SpoolFile(path, fd)
    except OSError:
        os.close(fd)
        return None


def _directory_bytes(directory: str, own: str) -> int:
    total = 0
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.path != own and entry.name.endswith(".jsonl"):
                with contextlib.suppress(OSError):
                    total += entry.stat().st_size
    return total
