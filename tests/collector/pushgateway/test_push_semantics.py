"""PUT replaces a group, POST replaces same-name families, DELETE removes one grouping key;
every group carries push_time_seconds and push_failure_time_seconds."""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import GroupRegistry, InconsistentPushError


def series(registry: GroupRegistry) -> list[str]:
    return [line for line in registry.render_text().splitlines() if not line.startswith("#")]


def test_put_replaces_every_family_of_the_group(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"one 1\ntwo 2\n", None, False, 10.0)
    registry.push("PUT", "job/a", b"three 3\n", None, False, 20.0)
    assert series(registry) == [
        'push_failure_time_seconds{instance="",job="a"} 0',
        'push_time_seconds{instance="",job="a"} 20',
        'three{instance="",job="a"} 3',
    ]


def test_post_replaces_only_families_of_the_same_name(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b'one 1\ntwo{x="1"} 2\ntwo{x="2"} 2\n', None, False, 10.0)
    registry.push("POST", "job/a", b'two{x="3"} 22\n', None, False, 20.0)
    assert series(registry) == [
        'one{instance="",job="a"} 1',
        'push_failure_time_seconds{instance="",job="a"} 0',
        'push_time_seconds{instance="",job="a"} 20',
        'two{instance="",job="a",x="3"} 22',
    ]


def test_an_empty_put_keeps_only_the_timestamps(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"one 1\n", None, False, 10.0)
    registry.push("PUT", "job/a", b"", None, False, 20.0)
    assert series(registry) == [
        'push_failure_time_seconds{instance="",job="a"} 0',
        'push_time_seconds{instance="",job="a"} 20',
    ]


def test_delete_removes_exactly_one_grouping_key(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"one 1\n", None, False, 10.0)
    registry.push("PUT", "job/a/instance/x", b"one 2\n", None, False, 10.0)
    assert registry.delete("job/a") == ((("job", "a"),), True)
    assert registry.delete("job/a") == ((("job", "a"),), False)
    assert [summary.key for summary in registry.groups()] == [(("instance", "x"), ("job", "a"))]


def test_path_labels_override_body_labels(registry: GroupRegistry) -> None:
    registry.push(
        "PUT", "job/a/instance/i", b'm{job="other",instance="x",k="v"} 1\n', None, False, 1.0
    )
    assert 'm{instance="i",job="a",k="v"} 1' in series(registry)


def test_a_refused_push_sets_the_failure_time_and_keeps_the_rest(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"one 1\n", None, False, 10.0)
    with pytest.raises(InconsistentPushError) as refused:
        registry.push("PUT", "job/a", b"two 2 1234\n", None, False, 20.0)
    assert (refused.value.key, refused.value.group_changed) == ((("job", "a"),), True)
    assert series(registry) == [
        'one{instance="",job="a"} 1',
        'push_failure_time_seconds{instance="",job="a"} 20',
        'push_time_seconds{instance="",job="a"} 10',
    ]
    summary = registry.get((("job", "a"),))
    assert summary is not None
    assert (summary.push_time, summary.failure_time) == (10.0, 20.0)


def test_a_refused_push_to_a_new_group_creates_it_with_only_the_failure(
    registry: GroupRegistry,
) -> None:
    with pytest.raises(InconsistentPushError):
        registry.push("PUT", "job/new", b"m 1 1234\n", None, False, 30.0)
    assert series(registry) == [
        'push_failure_time_seconds{instance="",job="new"} 30',
        'push_time_seconds{instance="",job="new"} 0',
    ]


def test_a_later_success_keeps_the_failure_time(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"one 1\n", None, False, 10.0)
    with pytest.raises(InconsistentPushError):
        registry.push("POST", "job/a", b"one 1 5\n", None, False, 20.0)
    registry.push("POST", "job/a", b"one 3\n", None, False, 30.0)
    summary = registry.get((("job", "a"),))
    assert summary is not None
    assert (summary.push_time, summary.failure_time) == (30.0, 20.0)


def test_pushed_timestamp_families_are_ignored(registry: GroupRegistry) -> None:
    registry.push(
        "PUT",
        "job/a",
        b"push_time_seconds 5\npush_failure_time_seconds 7\nm 1\n",
        None,
        False,
        10.0,
    )
    assert series(registry) == [
        'm{instance="",job="a"} 1',
        'push_failure_time_seconds{instance="",job="a"} 0',
        'push_time_seconds{instance="",job="a"} 10',
    ]


def test_the_result_says_what_the_group_holds(registry: GroupRegistry) -> None:
    first = registry.push("PUT", "job/a", b"one 1\ntwo 2\n", None, False, 1.0)
    second = registry.push("POST", "job/a", b"three 3\n", None, False, 2.0)
    assert (first.created, first.series, second.created, second.series) == (True, 2, False, 3)


def test_wipe_removes_every_group(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"one 1\n", None, False, 1.0)
    registry.push("PUT", "job/b", b"one 1\n", None, False, 1.0)
    assert (registry.wipe(), len(registry), registry.render_text()) == (2, 0, "")
