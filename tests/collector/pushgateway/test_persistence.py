"""A group saved after a push comes back, with its timestamps, exactly as it was."""

from __future__ import annotations

import json

import pytest

from batchgate.collector.pushgateway import (
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


def test_a_snapshot_is_a_header_line_a_times_line_and_text() -> None:
    registry = filled()
    header, times, text = registry.snapshot_group((("job", "go"),)).split("\n", 2)
    assert json.loads(header)["labels"] == [["job", "go"]]
    push_time, failure_time, *family_times = times.split(" ")
    assert (push_time, failure_time) == ("12.0", "13.0")
    assert set(family_times) == {"11.25", "12.0"}  # Not all pushed at the push time.
    assert "# TYPE etl_records_total counter\n" in text


def test_the_header_is_kept_until_the_families_change() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", b"# HELP m Rows.\nm 1\n", None, False, 1.0)
    header = registry.snapshot_group((("job", "a"),)).partition("\n")[0]
    registry.push("PUT", "job/a", b"# HELP m Rows.\nm 2\n", None, False, 2.0)
    assert registry.snapshot_group((("job", "a"),)).partition("\n")[0] == header
    registry.push("PUT", "job/a", b"# HELP m Other rows.\nm 2\n", None, False, 3.0)
    assert "Other rows." in registry.snapshot_group((("job", "a"),)).partition("\n")[0]


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


VERSION_1 = (
    '{"v":1,"labels":[["instance","a"],["job","v1"]],"created":10.5,"push_time":12.25,'
    '"failure_time":13.0,"families":[{"name":"rows","type":0,"help":"Rows.","pushed_at":10.5,'
    '"exact":null},{"name":"lat","type":4,"help":null,"pushed_at":10.5,"exact":null},'
    '{"name":"z","type":3,"help":null,"pushed_at":10.5,'
    '"exact":"CgF6GAMiJQoNCghpbnN0YW5jZRIBYQoJCgNqb2ISAnYxKgkJAAAAAAAAAIA="},'
    '{"name":"late","type":3,"help":null,"pushed_at":12.25,"exact":null}]}\n'
    '# TYPE rows counter\nrows{instance="a",job="v1",k="x"} 5\n# TYPE lat histogram\n'
    'lat_bucket{instance="a",job="v1",le="1"} 1\nlat_sum{instance="a",job="v1"} 0.5\n'
    'lat_count{instance="a",job="v1"} 2\n# TYPE late untyped\nlate{instance="a",job="v1"} 1\n'
)
"""A snapshot as the first version wrote it (PUT, POST of `late`, a refused POST)."""


def test_a_version_1_snapshot_is_still_restored() -> None:
    written = GroupRegistry()
    written.push(
        "PUT",
        "job/v1/instance/a",
        b'# HELP rows Rows.\n# TYPE rows counter\nrows{k="x"} 5\n# TYPE lat histogram\n'
        b'lat_bucket{le="1"} 1\nlat_sum 0.5\nlat_count 2\nz -0\n',
        None,
        False,
        10.5,
    )
    written.push("POST", "job/v1/instance/a", b"late 1\n", None, False, 12.25)
    with pytest.raises(InconsistentPushError):
        written.push("POST", "job/v1/instance/a", b"late 1 5\n", None, False, 13.0)
    restored = GroupRegistry()
    key = restored.restore_group(VERSION_1)
    assert restored.snapshot_group(key) == written.snapshot_group(key)
    assert restored.render_text() == written.render_text()
    assert api_metrics(restored) == api_metrics(written)


def test_family_times_are_left_out_when_all_are_the_push_time() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", b"m 1\nn 2\n", None, False, 5.5)
    snapshot = registry.snapshot_group((("job", "a"),))
    assert snapshot.split("\n")[1] == "5.5 0.0"
    restored = GroupRegistry()
    restored.restore_group(snapshot)
    assert api_metrics(restored) == api_metrics(registry)
