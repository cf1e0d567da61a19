"""How much SQLite's write-ahead log holds, read from its WAL index.

The log's file says nothing about that once checkpoints reuse it (`wal_checkpoint
(RESTART)`): it keeps the size it grew to, and new frames overwrite old ones from its
start. The WAL index (the `-shm` file beside it, shared memory for every connection)
holds the answer in its header, whose layout SQLite documents (sqlite.org/walformat.html,
"The WAL-Index Header"): the page size and the last valid frame (`mxFrame`), counted
from where the log last started over. Standard library only, like the writer process
that uses it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_VERSION = 3007000
"""The WAL index format SQLite has written since 3.7.0 (`iVersion`)."""
_HEADER = struct.Struct("=I10xH2I")
"""Native byte order, as the WAL index is: iVersion, (unused, iChange, isInit,
bigEndCksum), szPage, mxFrame, nPage."""
FRAME_HEADER_BYTES = 24


class WalIndex:
    """A database's WAL index, read through one descriptor that stays open until `close`.

    POSIX drops every lock a process holds on a file when the process closes any of its
    descriptors of that file, and SQLite's connections hold their read locks on the WAL
    index: opening and closing it for each read would take those locks away from every
    connection of this process, and with them the snapshot of each read under way. So
    the descriptor is opened once, and closed only after this process's connections to
    the database (`close`)."""

    def __init__(self, database: Path) -> None:
        self._index = database.with_name(database.name + "-shm")
        self._log = database.with_name(database.name + "-wal")
        self._fd: int | None = None
        self._closed = False

    def log_bytes(self) -> int:
        """The bytes of the frames written since the log last started over: what its file
        must hold, and what a start after a crash reads, whether or not checkpoints have
        copied them into the database already (SQLite starts the log over only once no
        reader needs it). From the WAL index, or the log file's size where the index
        cannot be read (no log yet, or a format this module does not know)."""
        frames = self._frames()
        if frames is not None:
            return frames
        try:
            return self._log.stat().st_size
        except FileNotFoundError:
            return 0

    def _frames(self) -> int | None:
        if self._fd is None:
            if self._closed:
                return None
            try:
                self._fd = os.open(self._index, os.O_RDONLY)
            except OSError:
                return None
        try:
            data = os.pread(self._fd, _HEADER.size, 0)
        except OSError:
            return None
        if len(data) < _HEADER.size:
            return None
        version, page_size, last_frame, _pages = _HEADER.unpack_from(data)
        if version != _VERSION:
            return None
        if page_size == 1:
            page_size = 65536  # 65536 does not fit in the field's 16 bits
        return int(last_frame) * (int(page_size) + FRAME_HEADER_BYTES)

    def close(self) -> None:
        """Close the descriptor: only once this process's connections to the database are
        closed (see the class). The log's file size answers from then on."""
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
