"""A group saved after a push comes back, with its timestamps, exactly as it was."""

from __future__ import annotations

import json

import pytest

from collector.pushgateway import (
    PROTOBUF_CONTENT_TYPE,
    GroupRegistry,
    InconsistentPushError,
    api_metrics,
)

from .client_bodies import go_client_body, python_client_body


def filled() -> GroupRegistry:
    registry = GroupRegistry()
    registry.push("PUT", "job/python/instance/a", python_client_body(), None, False, 10.5)
    registry.push("PUT", "job/go", go_client_body(), PROTOBUF_CONTENT_TYPE, False, 11.25)
    registry.push("POST", "job/go", b"# HELP late Pushed later.\nlate 1\n", None, False, 12.0)
    with pytest.raises(InconsistentPushError):
        registry.push("POST", "job/go", b"late 1 99\n", None, False, 13.0)
    with pytest.raises(InconsistentPushError):
        registry.push("PUT", "job/failed", b"x 1 99\n", None, False, 14.0)
    return registry


def restored_from(registry: GroupRegistry) -> GroupRegistry:
    restored = GroupRegistry()
    for summary in registry.groups():
        restored.restore_group(registry.snapshot_group(summary.key))
    return restored


def test_a_restored_registry_scrapes_the_same() -> None:
    registry = filled()
    assert restored_from(registry).render_text() == registry.render_text()


def test_a_restored_registry_lists_the_same_api_data() -> None:
    registry = filled()
    assert api_metrics(restored_from(registry)) == api_metrics(registry)


def test_timestamps_and_failures_survive() -> None:
    restored = restored_from(filled())
    summaries = {summary.key: summary for summary in restored.groups()}
    go = summaries[(("job", "go"),)]
    failed = summaries[(("job", "failed"),)]
    assert (go.push_time, go.failure_time, go.created) == (12.0, 13.0, 11.25)
    assert (failed.push_time, failed.failure_time, failed.series) == (0.0, 14.0, 0)


def test_a_snapshot_is_a_header_line_and_text() -> None:
    registry = filled()
    header, _, text = registry.snapshot_group((("job", "go"),)).partition("\n")
    assert json.loads(header)["labels"] == [["job", "go"]]
    assert "# TYPE etl_records_total counter\n" in text


def test_restoring_replaces_the_group() -> None:
    registry = filled()
    before = registry.render_text()
    snapshot = registry.snapshot_group((("job", "go"),))
    registry.push("PUT", "job/go", b"other 1\n", None, False, 20.0)
    registry.restore_group(snapshot)
    assert registry.render_text() == before


def test_a_snapshot_that_clashes_is_refused_and_changes_nothing() -> None:
    source = GroupRegistry()
    source.push("PUT", "job/a", b"# TYPE m gauge\nm 1\n", None, False, 1.0)
    target = GroupRegistry()
    target.push("PUT", "job/b", b"# TYPE m counter\nm 1\n", None, False, 1.0)
    before = target.render_text()
    with pytest.raises(InconsistentPushError):
        target.restore_group(source.snapshot_group((("job", "a"),)))
    assert target.render_text() == before


def test_something_else_is_not_a_snapshot() -> None:
    with pytest.raises(ValueError, match="not a group snapshot"):
        GroupRegistry().restore_group('{"v": 99}\n')
