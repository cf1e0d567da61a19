"""Fencing: a commit names the lease's epoch and holds the lease unchanged until it ends;
once another node has taken the lease (or it expired), the old epoch commits nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from batchgate.collector.core.records import AuditRecord, WriteBatch
from batchgate.collector.storage.postgres.lease import LeaseTable, fence_sql, is_fenced
from batchgate.collector.storage.postgres.store import PostgresStore
from tests.collector.storage.contract.records import NOW, job, point, run
from tests.postgres import Cluster


@pytest.fixture
def url(postgres: Cluster) -> str:
    return postgres.database()


def audited(action: str) -> WriteBatch:
    return WriteBatch(audit=[AuditRecord(1.0, "test", action, "-", None)], alive_at=1.0)


async def actions(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch("SELECT action FROM audit ORDER BY id")]
    finally:
        await conn.close()


async def test_a_leader_commits_only_while_its_epoch_holds_the_lease(url: str) -> None:
    alpha, beta = LeaseTable(url, None, 2.0), LeaseTable(url, None, 2.0)
    store = PostgresStore(url)
    try:
        await alpha.prepare()
        await store.open(0.0, 5, 60.0)
        first = await alpha.claim("alpha", "http://alpha", 1.0, None)
        assert first.held
        assert first.epoch == 1
        assert not (await beta.claim("beta", "http://beta", 1.0, None)).held
        store.fence_epoch = first.epoch
        await store.commit(audited("while leading"))

        renewed = await alpha.claim("alpha", "http://alpha", 1.0, first.epoch)
        assert renewed.held
        assert renewed.epoch == first.epoch

        await asyncio.sleep(1.1)  # alpha is paused past its lease; beta takes it
        taken = await beta.claim("beta", "http://beta", 1.0, None)
        assert taken.held
        assert taken.epoch == first.epoch + 1
        with pytest.raises(asyncpg.PostgresError) as refused:
            await store.commit(audited("after losing the lease"))
        assert is_fenced(refused.value)
        again = await alpha.claim("alpha", "http://alpha", 1.0, first.epoch)
        assert not again.held
        assert (again.holder, again.advertise_url) == ("beta", "http://beta")

        store.fence_epoch = taken.epoch  # the same database, as beta's writer would
        await store.commit(audited("beta leading"))
        assert await actions(url) == ["while leading", "beta leading"]
    finally:
        await store.close()
        await alpha.close()
        await beta.close()


@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "statements"])
async def test_progress_of_a_leader_that_lost_the_lease_is_refused(
    url: str, one_statement: bool
) -> None:
    """The batches written in one statement (progress, points) are fenced as the others."""
    alpha, beta = LeaseTable(url, None, 1.0), LeaseTable(url, None, 1.0)
    store = PostgresStore(url, one_statement=one_statement)
    try:
        await alpha.prepare()
        await store.open(0.0, 5, 60.0)
        lease = await alpha.claim("alpha", "http://alpha", 1.0, None)
        store.fence_epoch = lease.epoch
        started = run("r", 1, "running", started_at=NOW)
        await store.commit(WriteBatch(jobs=[job(1)], runs=[started], alive_at=NOW))
        await store.commit(progressed(1))

        await asyncio.sleep(1.1)  # alpha is paused past its lease; beta takes it
        assert (await beta.claim("beta", "http://beta", 1.0, None)).held
        with pytest.raises(asyncpg.PostgresError) as refused:
            await store.commit(progressed(2))
        assert is_fenced(refused.value)
        assert [p.seq for p in await store.timeline("r")] == [1]
        (stored,) = await store.get_runs(["r"])
        assert stored.readings.done == 1.0
    finally:
        await store.close()
        await alpha.close()
        await beta.close()


def progressed(number: int) -> WriteBatch:
    return WriteBatch(
        run_progress=[run("r", 1, "running", started_at=NOW, done=float(number))],
        points=[point("r", number, NOW + number, done=float(number))],
        alive_at=NOW + number,
    )


async def test_a_takeover_waits_for_the_commit_in_flight(url: str) -> None:
    """The commit holds the lease row FOR SHARE: a standby's claim waits until it ends, so
    what the leader acknowledged is there when the new leader restores."""
    alpha, beta = LeaseTable(url, None, 5.0), LeaseTable(url, None, 5.0)
    await alpha.prepare()
    lease = await alpha.claim("alpha", "http://alpha", 1.0, None)
    conn = await asyncpg.connect(url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(fence_sql(lease.epoch, 5.0))
        await asyncio.sleep(1.1)  # expired while the commit is in flight
        claim = asyncio.create_task(beta.claim("beta", "http://beta", 1.0, None))
        await asyncio.sleep(0.3)
        assert not claim.done()
        await transaction.commit()
        assert (await claim).held
    finally:
        await conn.close()
        await alpha.close()
        await beta.close()


async def test_a_leader_paused_in_a_commit_does_not_hold_the_lease_forever(url: str) -> None:
    """A leader stopped between the statements of a commit (SIGSTOP) keeps its transaction
    open: the database ends it after `hold` seconds, and a standby takes over."""
    alpha, beta = LeaseTable(url, None, 5.0), LeaseTable(url, None, 5.0)
    await alpha.prepare()
    lease = await alpha.claim("alpha", "http://alpha", 1.0, None)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("BEGIN")
        await conn.execute(fence_sql(lease.epoch, 0.5))
        await asyncio.sleep(1.1)  # paused, the transaction open, the lease expired
        assert (await beta.claim("beta", "http://beta", 1.0, None)).held
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await conn.execute("COMMIT")
    finally:
        await conn.close()
        await alpha.close()
        await beta.close()
