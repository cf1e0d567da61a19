"""How much of SQLite's write-ahead log is not yet in the database, read from its WAL index.

The log's file says nothing about that once checkpoints reuse it (`wal_checkpoint
(RESTART)`): it keeps the size it grew to, and new frames overwrite old ones from its
start. The WAL index (the `-shm` file beside it, shared memory for every connection)
holds the answer in its header, whose layout SQLite documents (sqlite.org/walformat.html,
"The WAL-Index Header"): the last valid frame (`mxFrame`), the page size, and how many
frames checkpoints have copied into the database (`nBackfill`). Standard library only,
like the writer process that uses it.
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
_BACKFILL = struct.Struct("=I")
_BACKFILL_OFFSET = 96
"""nBackfill: the first field after the header's two 48-byte copies."""
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

    def uncopied_bytes(self) -> int | None:
        """The bytes of log frames that no checkpoint has copied into the database yet;
        None when the WAL index cannot be read (no log yet, or a format this module
        does not know)."""
        if self._fd is None:
            if self._closed:
                return None
            try:
                self._fd = os.open(self._index, os.O_RDONLY)
            except OSError:
                return None
        try:
            data = os.pread(self._fd, _BACKFILL_OFFSET + _BACKFILL.size, 0)
        except OSError:
            return None
        if len(data) < _BACKFILL_OFFSET + _BACKFILL.size:
            return None
        version, page_size, last_frame, _pages = _HEADER.unpack_from(data)
        if version != _VERSION:
            return None
        (copied,) = _BACKFILL.unpack_from(data, _BACKFILL_OFFSET)
        if page_size == 1:
            page_size = 65536  # 65536 does not fit in the field's 16 bits
        frames = max(int(last_frame) - int(copied), 0)
        return frames * (int(page_size) + FRAME_HEADER_BYTES)

    def log_bytes(self) -> int:
        """The bytes of the log that are not in the database yet: from the WAL index, or
        the log file's size where that cannot be read."""
        uncopied = self.uncopied_bytes()
        if uncopied is not None:
            return uncopied
        try:
            return self._log.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        """Close the descriptor: only once this process's connections to the database are
        closed (see the class). The log's file size answers from then on."""
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
