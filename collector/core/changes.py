"""What changed in the live state since a consumer last looked, so it costs O(changes).

The rules engine is the consumer: its periodic pass takes the jobs (and queues) that changed
and those deleted, instead of scanning every one. Nothing is recorded while nobody watches,
so the log is bounded by the live keys plus the deletions between two looks.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ChangeLog(Generic[K, V]):
    """Keys changed since the last `take()`, each with its value now (None: deleted)."""

    __slots__ = ("_changed",)

    def __init__(self) -> None:
        self._changed: dict[K, V | None] | None = None

    @property
    def watched(self) -> bool:
        return self._changed is not None

    def watch(self, on: bool = True) -> None:
        """Start recording (from empty), or stop and forget what was recorded."""
        self._changed = {} if on else None

    def changed(self, key: K, value: V) -> None:
        if self._changed is not None:
            self._changed[key] = value

    def deleted(self, key: K) -> None:
        if self._changed is not None:
            self._changed[key] = None

    def take(self) -> dict[K, V | None]:
        """What changed since the last take (the latest value per key), and start afresh."""
        taken = self._changed
        if taken is None:
            return {}
        self._changed = {}
        return taken
