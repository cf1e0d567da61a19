"""A data directory that is read-only or full: a clear error at start; a disk that fills up
while batchgate runs: unhealthy, pushes answered 503, nothing acknowledged lost, and
recovery once space is freed. Real mounts (tmpfs, a read-only bind mount): root only."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batchgate.collector.http.app import create_app
from batchgate.collector.settings import Settings
from batchgate.collector.storage.sqlite.store import SqliteStore
from tests.collector.test_cli import batchgate
from tests.helpers import Client, Clock, Server, get, push, until


@contextlib.contextmanager
def mounted(target: Path, *options: str) -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", *options, str(target)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here ({result.stderr.strip()}); these tests need root")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free space)."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    chunk = b"\0" * 4096
    try:
        while True:
            try:
                os.write(descriptor, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(descriptor)
    return filler


def test_a_read_only_data_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    with mounted(tmp_path / "ro", "--bind", "-o", "ro", str(source)) as data:
        result = batchgate("serve", "--listen", "127.0.0.1:0", "--data-dir", str(data))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line == f"batchgate: cannot use data directory {data}: Read-only file system"


def test_a_full_data_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    with mounted(tmp_path / "full", "-t", "tmpfs", "-o", "size=256k", "tmpfs") as data:
        fill(data)
        result = batchgate("serve", "--listen", "127.0.0.1:0", "--data-dir", str(data))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("batchgate: cannot use ")
    assert "full" in line or "No space left" in line


async def test_a_disk_filling_up_while_running_loses_nothing_acknowledged(
    aiohttp_client: Any, tmp_path: Path, clock: Clock
) -> None:
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=8m", "tmpfs") as data:
        settings = replace(Settings(data_dir=data), push_timeout=0.5, sweep_interval=0.05)

        async def start() -> Client:
            store = SqliteStore(data, busy_timeout=0.05)
            return await aiohttp_client(Server(create_app(settings, clock=clock, store=store)))  # type: ignore[no-any-return]

        client = await start()
        acknowledged = [f"before-{i}" for i in range(20)]
        for run_id in acknowledged:
            await push(client, {"job": "backup", "event": "start", "run_id": run_id})

        filler = fill(data)
        big = "x" * 4000
        held = []
        for i in range(50):  # enough to need pages the full disk cannot give
            response = await client.post(
                "/push",
                json=[
                    {"job": "backup", "event": "start", "run_id": f"held-{i}-{n}", "message": big}
                    for n in range(20)
                ],
            )
            if response.status == 503:
                break
            held.append(i)
        assert response.status == 503, "the full disk was never noticed"

        health = await get(client, "/health", 503)
        assert health["status"] == "unhealthy"
        assert "full" in health["reasons"][0]["reason"]
        refused = await push(client, {"job": "backup", "event": "start", "run_id": "x"}, 503)
        assert "nothing was applied" in refused["error"]

        os.remove(filler)

        async def healthy() -> bool:
            return bool((await (await client.get("/health")).json())["status"] == "healthy")

        await until(healthy, within=10)
        await push(client, {"job": "backup", "event": "start", "run_id": "after"})
        await client.close()

        client = await start()
        for run_id in [*acknowledged, "after"]:
            assert (await get(client, f"/runs/{run_id}"))["status"] == "running"
        await client.close()
