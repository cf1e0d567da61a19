"""The bytes the write-ahead log holds since it last started over, as read from SQLite's
WAL index: what /metrics and /health report and what the writer checkpoints on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from batchgate.collector.storage.sqlite.wal import FRAME_HEADER_BYTES, WalIndex

PAGE = 4096


def database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (x BLOB)")
    return conn


def write(conn: sqlite3.Connection, rows: int) -> None:
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 1000,)] * rows)
    conn.execute("COMMIT")


def test_a_log_holds_its_frames_until_it_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = database(path)
    write(conn, 300)
    index = WalIndex(path)
    wal = path.with_name("t.db-wal")
    written = wal.stat().st_size - 32  # all but the log's own header
    assert index.log_bytes() == written
    # Copied into the database, the frames are still in the log, and a start after a
    # crash would read them all: the log starts over only at the next commit.
    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames == copied > 0
    assert index.log_bytes() == written
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert index.log_bytes() == 0
    index.close()
    conn.close()


def test_a_reused_log_counts_only_its_new_frames(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = database(path)
    write(conn, 300)
    conn.execute("PRAGMA wal_checkpoint(RESTART)")
    write(conn, 20)  # written over the start of the log: its file keeps the size of 300 rows
    index = WalIndex(path)
    held = index.log_bytes()
    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    assert frames == copied
    assert held == frames * (PAGE + FRAME_HEADER_BYTES)
    assert held < path.with_name("t.db-wal").stat().st_size / 4
    index.close()
    conn.close()


WRITE_ELSEWHERE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
conn.execute("BEGIN")
conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 1000,)] * 100)
conn.execute("COMMIT")
conn.execute("PRAGMA wal_checkpoint(RESTART)")
"""


def test_reading_the_index_leaves_a_reader_its_snapshot(tmp_path: Path) -> None:
    """Another process writes and checkpoints (as the writer process does) while a reader
    of this one holds its snapshot: the frames it holds stay counted, and reading the
    index takes none of this process's locks away (POSIX drops them all when a process
    closes any descriptor of the file)."""
    path = tmp_path / "t.db"
    conn = database(path)
    write(conn, 10)
    conn.execute("PRAGMA wal_checkpoint(RESTART)")
    index = WalIndex(path)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (10,)
    held = []
    for _ in range(3):
        subprocess.run([sys.executable, "-c", WRITE_ELSEWHERE, str(path)], check=True)
        held.append(index.log_bytes())
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (10,)
    assert held == sorted(held), held
    assert held[0] > 0
    reader.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert index.log_bytes() == 0
    reader.close()
    index.close()
    conn.close()


def test_without_an_index_the_log_file_answers(tmp_path: Path) -> None:
    index = WalIndex(tmp_path / "none.db")
    assert index.log_bytes() == 0
    (tmp_path / "none.db-wal").write_bytes(b"x" * 100)
    assert index.log_bytes() == 100
