"""Which store the settings ask for: PostgreSQL at `store.url`, or SQLite in the data
directory (the embedded default, when no URL is set)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from batchgate.collector.storage.store import Store


class StoreSettings(Protocol):
    """What of the settings (`collector.settings.Settings`) chooses and opens the store."""

    @property
    def store_url(self) -> str | None: ...
    @property
    def store_password_file(self) -> Path | None: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def durability(self) -> str: ...


def store_for(settings: StoreSettings) -> Store:
    """The store of these settings, not yet opened (the app opens it when it starts)."""
    if settings.store_url:
        from batchgate.collector.storage.postgres.store import PostgresStore

        return PostgresStore(settings.store_url, settings.store_password_file)
    from batchgate.collector.storage.sqlite.store import SqliteStore

    return SqliteStore(settings.data_dir, settings.durability)
