"""Pushgateway groups and their history, the audit log and the alert history."""

from __future__ import annotations

from batchgate.collector.core.records import (
    AlertEventRecord,
    AuditRecord,
    GroupEventRecord,
    WriteBatch,
)
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW


async def _restored_groups(make_store: MakeStore) -> list[str]:
    return (await make_store().open(NOW, 32, 3600)).groups


async def test_groups_are_stored_replaced_deleted_and_wiped(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(
        WriteBatch(groups=[('[["job","b"]]', "snapshot b1"), ('[["job","a"]]', "snapshot a1")])
    )
    await store.commit(
        WriteBatch(groups=[('[["job","b"]]', "snapshot b2"), ('[["job","c"]]', "snapshot c1")])
    )
    await store.commit(WriteBatch(groups=[('[["job","c"]]', None)]))
    await store.close()
    # In the order of their keys.
    assert await _restored_groups(make_store) == ["snapshot a1", "snapshot b2"]

    store = make_store()
    await store.open(NOW, 32, 3600)
    # A wipe deletes every group before the batch's own are stored.
    await store.commit(WriteBatch(groups_wiped=True, groups=[('[["job","d"]]', "snapshot d1")]))
    await store.close()
    assert await _restored_groups(make_store) == ["snapshot d1"]


async def test_group_history_newest_first(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    events = [
        GroupEventRecord(NOW - 30, "expired", '{"job":"a"}', NOW - 100, 3),
        GroupEventRecord(NOW - 10, "deleted", '{"job":"b"}', None, 0),
        GroupEventRecord(NOW - 10, "wiped", '{"job":"c"}', NOW - 20, 7),
    ]
    await store.commit(WriteBatch(group_events=events))
    # Two at the same time: the later committed first.
    assert await store.group_history(10) == [events[2], events[1], events[0]]
    assert await store.group_history(1) == [events[2]]


async def test_the_audit_log_newest_first_with_a_cursor(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    entries = [
        AuditRecord(NOW + n, "admin", "delete_job", f"job-{n}", '{"runs":3}' if n % 2 else None)
        for n in range(5)
    ]
    await store.commit(WriteBatch(audit=entries[:3]))
    await store.commit(WriteBatch(audit=entries[3:]))
    assert await store.audit(10, None) == entries[::-1]
    assert await store.audit(2, None) == [entries[4], entries[3]]
    assert await store.audit(2, NOW + 3) == [entries[2], entries[1]]


async def test_the_alert_history_with_filters_and_a_cursor(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)

    def event(at: float, kind: str, rule: str, job: str) -> AlertEventRecord:
        return AlertEventRecord(at, kind, f"{rule}:{job}", rule, job, '{"env":"prod"}',
                                "run-1", "critical", 2.5, f"{job} {kind}")  # fmt: skip

    events = [
        event(NOW, "firing", "JobFailed", "etl"),
        event(NOW + 10, "firing", "JobStuck", "etl"),
        event(NOW + 20, "firing", "JobFailed", "backup"),
        event(NOW + 30, "severity", "JobFailed", "etl"),
        event(NOW + 30, "resolved", "JobFailed", "etl"),
    ]
    await store.commit(WriteBatch(alert_events=events))
    everything = await store.alert_history(None, None, None, None, None, 10)
    assert [record for _, record in everything] == events[::-1]
    ids = [row_id for row_id, _ in everything]
    assert len(set(ids)) == 5

    etl_failed = await store.alert_history("etl", "JobFailed", None, None, None, 10)
    assert [r.event for _, r in etl_failed] == ["resolved", "severity", "firing"]
    window = await store.alert_history(None, None, NOW + 10, NOW + 30, None, 10)
    assert [r.rule for _, r in window] == ["JobFailed", "JobStuck"]
    # The next page after the second of all: strictly older by (at, id).
    at, row_id = everything[1][1].at, everything[1][0]
    page = await store.alert_history(None, None, None, None, (at, row_id), 2)
    assert [record for _, record in page] == [events[2], events[1]]
    assert await store.alert_history("nobody", None, None, None, None, 10) == []
