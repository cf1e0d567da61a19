"""A job's own declared schedule (schema 14) is stored with the job: a reopened store gives
it back as it was declared, and a later declaration replaces it."""

from __future__ import annotations

from batchgate.collector.core.records import WriteBatch
from batchgate.rules.declarations import Declaration, declaration_to_text
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job

NIGHTLY = Declaration("0 2 * * *", "Europe/Berlin", 1800.0, 7200.0, NOW - 60, 4 * 3600.0)


async def test_a_reopened_store_gives_back_the_latest_declaration(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(
        WriteBatch(
            jobs=[
                job(1, "backup", declaration=declaration_to_text(NIGHTLY)),
                job(2, "report"),
            ]
        )
    )
    hourly = Declaration("0 * * * *", "UTC", 0.0, None, NOW)
    await store.commit(WriteBatch(jobs=[job(2, "report", declaration=declaration_to_text(hourly))]))
    await store.close()

    restored = {j.name: j.declaration for j in (await make_store().open(NOW + 60, 32, 3600)).jobs}
    assert restored == {"backup": NIGHTLY, "report": hourly}


async def test_a_job_that_declared_nothing_has_no_declaration(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(WriteBatch(jobs=[job(1, "plain")]))
    await store.close()

    (restored,) = (await make_store().open(NOW + 60, 32, 3600)).jobs
    assert restored.declaration is None
