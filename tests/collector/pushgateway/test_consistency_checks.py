"""What a push may not do to what is stored, checked without looking at everything stored."""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import GroupRegistry, InconsistentPushError
from batchgate.collector.pushgateway.model import COUNTER, HISTOGRAM


def refusal(registry: GroupRegistry, path: str, body: bytes) -> str:
    with pytest.raises(InconsistentPushError) as refused:
        registry.push("PUT", path, body, None, False, 2.0)
    return refused.value.message.split(": ", 1)[1]


def test_a_name_keeps_one_type_across_groups(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"# TYPE m gauge\nm 1\n", None, False, 1.0)
    assert refusal(registry, "job/b", b"# TYPE m counter\nm 1\n").endswith("is not a GAUGE")


def test_the_only_group_using_a_name_may_change_its_type(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"# TYPE m gauge\nm 1\n", None, False, 1.0)
    registry.push("PUT", "job/a", b"# TYPE m counter\nm 1\n", None, False, 2.0)
    registry.push("PUT", "job/b", b"# TYPE m counter\nm 2\n", None, False, 3.0)
    assert "# TYPE m counter\n" in registry.render_text()


def test_the_same_series_may_not_come_from_two_groups(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"m 1\n", None, False, 1.0)
    # `instance=""` in the path is another grouping key, but the same series.
    message = refusal(registry, "job/a/instance/", b"m 2\n")
    assert message.startswith("3 error(s) occurred:")
    assert message.count("was collected before with the same name and label values") == 3


def test_a_group_may_push_its_own_series_again(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b'm{k="1"} 1\n', None, False, 1.0)
    registry.push("POST", "job/a", b'm{k="1"} 2\n', None, False, 2.0)
    assert 'm{instance="",job="a",k="1"} 2\n' in registry.render_text()


@pytest.mark.parametrize(
    ("stored", "pushed", "message"),
    [
        (
            b'# TYPE h histogram\nh_bucket{le="1"} 1\n',
            b"h_bucket 1\n",
            'collected metric named "h_bucket" collides with previously collected histogram '
            'named "h"',
        ),
        (
            b"# TYPE s summary\ns_sum 1\n",
            b"s_count 1\n",
            'collected metric named "s_count" collides with previously collected summary named "s"',
        ),
        (
            b"h_sum 1\n",
            b'# TYPE h histogram\nh_bucket{le="1"} 1\n',
            'collected histogram or summary named "h" collides with previously collected metric '
            'named "h_sum"',
        ),
    ],
)
def test_names_may_not_collide_with_histogram_and_summary_series(
    registry: GroupRegistry, stored: bytes, pushed: bytes, message: str
) -> None:
    registry.push("PUT", "job/a", stored, None, False, 1.0)
    assert refusal(registry, "job/b", pushed) == message


def test_a_summary_bucket_is_not_a_collision(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"# TYPE s summary\ns_sum 1\n", None, False, 1.0)
    registry.push("PUT", "job/b", b"s_bucket 1\n", None, False, 2.0)


def test_collisions_within_one_push_are_found_too(registry: GroupRegistry) -> None:
    body = b'# TYPE h_count gauge\nh_count 1\n# TYPE h histogram\nh_bucket{le="1"} 1\n'
    assert refusal(registry, "job/a", body) == (
        'collected histogram or summary named "h" collides with previously collected metric '
        'named "h_count"'
    )


def test_reserved_names_and_prefixes_are_refused() -> None:
    registry = GroupRegistry(
        reserved_families={"jobs_done_total": COUNTER, "latency_seconds": HISTOGRAM}
    )
    assert refusal(registry, "job/a", b"batchgate_runs 1\n") == (
        'metric family "batchgate_runs" is reserved for the server\'s own metrics'
    )
    assert refusal(registry, "job/a", b"jobs_done_total 1\n") == (
        'metric family "jobs_done_total" is reserved for the server\'s own metrics'
    )
    assert refusal(registry, "job/a", b"latency_seconds_count 1\n") == (
        'collected metric named "latency_seconds_count" collides with previously collected '
        'histogram named "latency_seconds"'
    )


def test_a_stored_family_without_series_still_holds_its_type(registry: GroupRegistry) -> None:
    from batchgate.collector.pushgateway import PROTOBUF_CONTENT_TYPE, encode_delimited
    from batchgate.collector.pushgateway.model import GAUGE, MetricFamily

    empty = encode_delimited([MetricFamily("m", None, GAUGE, [])])
    registry.push("PUT", "job/a", empty, PROTOBUF_CONTENT_TYPE, False, 1.0)
    assert "# TYPE m " not in registry.render_text()
    assert refusal(registry, "job/b", b"# TYPE m counter\nm 1\n").endswith("is not a GAUGE")


def test_help_shown_is_the_latest_pushed(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"# HELP m First.\nm 1\n", None, False, 1.0)
    registry.push("PUT", "job/b", b"# HELP m Second.\nm 2\n", None, False, 2.0)
    assert "# HELP m Second.\n" in registry.render_text()
    registry.delete("job/b")
    assert "# HELP m First.\n" in registry.render_text()
    registry.push("PUT", "job/c", b"m 3\n", None, False, 3.0)
    assert "# HELP m" not in registry.render_text()
