"""A commit cut off at some moment and retried, as the writer retries a batch."""

from __future__ import annotations

import asyncio

from batchgate.collector.core.records import WriteBatch
from batchgate.collector.storage.store import Store


async def retried(store: Store, batch: WriteBatch) -> None:
    """Commit as the writer does: again after a failure (a store may fail once more while
    it reconnects: SQLite's writer process was killed with the cut-off attempt)."""
    for attempt in range(3):
        try:
            await store.commit(batch)
            return
        except Exception:
            if attempt == 2:
                raise


async def commit_cut_off(store: Store, batch: WriteBatch, cut_after: float) -> None:
    """Commit `batch`, cancelled `cut_after` seconds in: committed or not, depending on
    where it was cut off. As the writer does, the same batch is then retried, if it
    failed, until a commit of it succeeds."""
    attempt = asyncio.ensure_future(store.commit(batch))
    await asyncio.sleep(cut_after)
    attempt.cancel()
    (outcome,) = await asyncio.gather(attempt, return_exceptions=True)
    if isinstance(outcome, BaseException):
        await retried(store, batch)
