"""Groups restored at start: each stored group comes back as a group and as a job; one that
cannot come back (unreadable, or clashing with one already restored) is logged and skipped."""

from __future__ import annotations

import logging

import pytest

from batchgate.collector.core.state import State, StateSettings
from batchgate.collector.groups import Groups
from batchgate.collector.pushgateway import GroupRegistry
from batchgate.collector.storage.writer import Writer


def snapshot_of(path: str, body: bytes) -> str:
    registry = GroupRegistry()
    result = registry.push("PUT", path, body, None, False, 10.0)
    return registry.snapshot_group(result.key)


def test_a_group_that_cannot_come_back_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    state = State(StateSettings())
    groups = Groups(GroupRegistry(), state, Writer(store=None), ())  # type: ignore[arg-type]
    snapshots = [
        snapshot_of("job/a", b"# TYPE m gauge\nm 1\n"),
        snapshot_of("job/b", b"# TYPE m counter\nm 1\n"),  # m was restored as a gauge
        '{"v": 99}\n',
        snapshot_of("job/c", b"n 1\n"),
    ]
    with caplog.at_level(logging.ERROR):
        assert groups.restore(snapshots) == 2
    assert sorted(summary.key for summary in groups.registry.groups()) == [
        (("job", "a"),),
        (("job", "c"),),
    ]
    assert sorted(job.name for job in state.jobs.values()) == ["a", "c"]
    assert len([r for r in caplog.records if "cannot be restored" in r.getMessage()]) == 2
