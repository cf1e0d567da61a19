"""The embedded store: one SQLite file in WAL mode, read over aiosqlite, written by a writer
process of its own (`writer.py`, started by `writer_process.py`)."""
