"""Starting the SQLite writer process (`collector.storage.sqlite.writer`) and talking to it.

The server's end of the protocol that module describes: one request at a time, a reply
for each. The process is started on the first request, and again on the request after it
died; a request it dies in raises WriterProcessExited, which the writer retries.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path
from typing import Any

import batchgate
from batchgate.collector.storage.sqlite.writer import FRAME_HEADER, frame

_PACKAGE_ROOT = str(Path(batchgate.__file__).parent.parent)
"""Where the writer process imports `batchgate` from: where this server did."""


class StoreUnavailable(Exception):
    """The data directory or database cannot be used; the message says why."""


class WriterProcessExited(Exception):
    """The writer process ended while it had a request; the next request starts another."""


class WriterProcess:
    """The writer process (`storage.sqlite.writer`): started on the first request, and again
    on the request after it died; one request at a time."""

    _BOOT = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import batchgate.collector.storage.sqlite.writer as writer; writer.main(sys.argv[2:])"
    )

    def __init__(
        self,
        path: Path,
        durability: str,
        busy_ms: int,
        wal_checkpoint_bytes: int,
        wal_limit_bytes: int,
    ) -> None:
        self._arguments = (
            str(path), durability, str(busy_ms), str(wal_checkpoint_bytes), str(wal_limit_bytes)
        )  # fmt: skip
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start the process and open the database, unless it runs. Raises StoreUnavailable."""
        async with self._lock:
            await self._start_unless_running()

    async def call(self, operation: str, *arguments: object) -> Any:
        """Run `operation` in the writer process and return its result, or raise its error."""
        async with self._lock:
            await self._start_unless_running()
            return await self._exchange(operation, arguments)

    async def close(self) -> None:
        """Checkpoint and close the database, and wait for the process to end."""
        async with self._lock:
            process = self._process
            if process is None:
                return
            try:
                if process.returncode is None:
                    await self._exchange("close", ())
            except WriterProcessExited:
                pass  # gone already (killed when a commit was cancelled): nothing to close
            finally:
                await process.wait()
                self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _start_unless_running(self) -> None:
        if self._process is not None:
            if self._process.returncode is None:
                return
            await self._process.wait()  # the one that died, or was killed when cancelled
        # -I -S: none of the server's site packages or environment, so it starts fast; the
        # one path it needs is the one this package was imported from.
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", "-c", self._BOOT, _PACKAGE_ROOT, *self._arguments,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as error:
            raise StoreUnavailable(f"cannot start the SQLite writer process: {error}") from None
        try:
            await self._exchange("open", ())
        except WriterProcessExited as exited:
            raise StoreUnavailable(str(exited)) from None

    async def _exchange(self, operation: str, arguments: tuple[object, ...]) -> Any:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(frame((operation, *arguments)))
            await process.stdin.drain()
            header = await process.stdout.readexactly(FRAME_HEADER.size)
            (size,) = FRAME_HEADER.unpack(header)
            status, value = pickle.loads(await process.stdout.readexactly(size))
        except (ConnectionError, asyncio.IncompleteReadError):
            code = await process.wait()
            raise WriterProcessExited(
                f"the SQLite writer process exited (code {code}) during {operation}"
            ) from None
        except BaseException:
            # Cancelled, or worse, between a request and its reply: the stream is out of
            # step, so this process is done; a retried commit is applied once.
            process.kill()
            raise
        if status == "ok":
            return value
        if status == "unavailable":
            raise StoreUnavailable(value)
        raise value
