"""A refused push leaves the registry as it was (but for the failure time); bad bytes only
ever raise the Pushgateway's own errors."""

from __future__ import annotations

import contextlib
import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgate.collector.pushgateway import (
    PROTOBUF_CONTENT_TYPE,
    GroupRegistry,
    InconsistentPushError,
    ProtobufParseError,
    PushgatewayError,
    parse_delimited,
)
from batchgate.collector.pushgateway.consistency import PUSH_FAILURE_TIME, PUSH_TIME

from .client_bodies import go_client_body, python_client_body
from .test_incremental_checks_match_regathering import GROUPS, bodies

SEED_PUSHES = [
    ("job/j1", python_client_body(), None),
    ("job/j2", go_client_body(), PROTOBUF_CONTENT_TYPE),
    ("job/j1/instance/i1", b'# TYPE a histogram\na_bucket{le="1"} 1\na_count 1\n', None),
    ("job/j2/k/x", b"# TYPE b gauge\nb 1\nc 2\n", None),
]


def seeded() -> GroupRegistry:
    registry = GroupRegistry()
    for number, (path, body, content_type) in enumerate(SEED_PUSHES):
        registry.push("PUT", path, body, content_type, False, 100.0 + number)
    return registry


def state(registry: GroupRegistry, ignore_failures: bool) -> tuple:
    """Everything observable, optionally without failure times and failure-only groups."""
    groups = []
    for summary in sorted(registry.groups(), key=lambda group: group.key):
        if ignore_failures and summary.push_time == 0 and summary.series == 0:
            continue
        snapshot = registry.snapshot_group(summary.key)
        if ignore_failures:
            snapshot = without_failure_time(snapshot)
        groups.append(snapshot)
    scrape = registry.render_text()
    if ignore_failures:
        scrape = "".join(
            line
            for line in scrape.splitlines(keepends=True)
            if not line.startswith(PUSH_FAILURE_TIME + "{")
            and not (line.startswith(PUSH_TIME + "{") and line.endswith("} 0\n"))
        )
    return tuple(groups), scrape


def without_failure_time(snapshot: str) -> str:
    """The snapshot without the failure time (its second line's second number)."""
    header, times, text = snapshot.split("\n", 2)
    push_time, _, *family_times = times.split(" ")
    return "\n".join([header, " ".join([push_time, *family_times]), text])


garbage = st.binary(max_size=300)
texts = bodies().map(str.encode)
mutated = st.tuples(
    st.sampled_from([b for _, b, _ in SEED_PUSHES]), st.integers(0, 400), garbage
).map(lambda parts: parts[0][: parts[1]] + parts[2])


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["PUT", "POST"]),
    path=st.sampled_from([*GROUPS, "job/new", "job/j1/x@base64/_w", "job/a/b", "job@base64/!"]),
    body=texts | garbage | mutated,
    protobuf=st.booleans(),
    gzipped=st.booleans(),
)
def test_a_refused_push_changes_nothing_but_the_failure_time(
    method: str, path: str, body: bytes, protobuf: bool, gzipped: bool
) -> None:
    registry = seeded()
    before = state(registry, ignore_failures=False)
    before_without_failures = state(registry, ignore_failures=True)
    content_type = PROTOBUF_CONTENT_TYPE if protobuf else None
    data = gzip.compress(body) if gzipped and len(body) % 3 else body
    try:
        registry.push(method, path, data, content_type, gzipped, 500.0)
    except InconsistentPushError:
        assert state(registry, ignore_failures=True) == before_without_failures
    except PushgatewayError:
        assert state(registry, ignore_failures=False) == before


@settings(max_examples=2000, deadline=None)
@given(garbage | mutated)
def test_the_protobuf_decoder_fails_only_with_its_own_error(body: bytes) -> None:
    with contextlib.suppress(ProtobufParseError):
        parse_delimited(body)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["PUT", "POST"]), st.sampled_from(GROUPS), texts), max_size=8
    )
)
def test_a_restored_registry_is_the_registry_it_was_saved_from(pushes: list) -> None:
    registry = seeded()
    for number, (method, path, body) in enumerate(pushes):
        with contextlib.suppress(PushgatewayError):
            registry.push(method, path, body, None, False, 200.0 + number)
    restored = GroupRegistry()
    for summary in registry.groups():
        restored.restore_group(registry.snapshot_group(summary.key))
    assert state(restored, ignore_failures=False) == state(registry, ignore_failures=False)
