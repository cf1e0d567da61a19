"""A push that repeats its group's last text body with new values takes the fast path
(`collector.pushgateway.same_shape`): no parse, no checks against other groups. It must end
exactly where the full path (parse, check, store) ends: same answer, same error, same
scrape, same snapshot. A registry whose fast path is turned off is the reference."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchgate.collector.pushgateway import (
    GroupRegistry,
    InconsistentPushError,
    PushgatewayError,
    PushTooLargeError,
    TextParseError,
    api_metrics,
)
from batchgate.collector.pushgateway import (
    registry as registry_module,
)
from batchgate.collector.pushgateway.group import Group, PushResult
from batchgate.collector.pushgateway.same_shape import BodyShape

from .client_bodies import python_client_body
from .test_incremental_checks_match_regathering import GROUPS, bodies, with_values

BODY = b'# HELP a Rows.\n# TYPE a gauge\na 1\n# TYPE b counter\nb{k="x"} 2\nb{k="y"} 3\nc 4\n'


class FullPathOnly(GroupRegistry):
    """The registry with the fast path turned off: every push is parsed and checked."""

    def _push_same_shape(
        self, group: Group, shape: BodyShape, data: bytes, replace: bool, now: float
    ) -> PushResult | None:
        return None


def outcome(registry: GroupRegistry, method: str, path: str, body: bytes, now: float) -> Any:
    gzipped = body.startswith(b"\x1f\x8b")
    try:
        return registry.push(method, path, body, None, gzipped, now)
    except PushgatewayError as error:
        return type(error).__name__, error.status, error.message


def everything(registry: GroupRegistry) -> tuple[Any, ...]:
    summaries = sorted(registry.groups(), key=lambda summary: summary.key)
    snapshots = [registry.snapshot_group(summary.key) for summary in summaries]
    return registry.render_text(), summaries, snapshots


def test_a_repeat_is_not_parsed_and_shows_its_new_values(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/j", BODY, None, False, 10.0)

    def no_parsing(*args: object) -> None:
        raise AssertionError("a repeated body was parsed")

    monkeypatch.setattr(registry_module, "read_text", no_parsing)
    repeat = with_values(BODY, ["1e6", "+Inf", "0.25", "NaN"])
    assert registry.push("POST", "job/j", repeat, None, False, 20.0) == PushResult(
        (("job", "j"),), False, 4
    )
    lines = registry.render_text().splitlines()
    assert 'a{instance="",job="j"} 1e+06' in lines
    assert 'b{instance="",job="j",k="x"} +Inf' in lines
    assert 'b{instance="",job="j",k="y"} 0.25' in lines
    assert 'c{instance="",job="j"} NaN' in lines
    assert 'push_time_seconds{instance="",job="j"} 20' in lines


def test_a_shape_is_kept_once_the_groups_series_are_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[int] = []
    read_text = registry_module.read_text  # type: ignore[attr-defined]

    def counted(*args: Any) -> Any:
        parsed.append(1)
        return read_text(*args)

    monkeypatch.setattr(registry_module, "read_text", counted)
    registry = GroupRegistry()
    other_labels = BODY.replace(b'k="x"', b'k="z"')
    registry.push("PUT", "job/j", BODY, None, False, 1.0)  # created: shape kept
    registry.push("PUT", "job/j", other_labels, None, False, 2.0)  # series replaced: none kept
    registry.push("PUT", "job/j", with_values(other_labels, ["5"]), None, False, 3.0)
    registry.push("PUT", "job/j", with_values(other_labels, ["6"]), None, False, 4.0)
    assert len(parsed) == 3
    assert 'b{instance="",job="j",k="z"} 6' in registry.render_text()


def test_a_repeat_of_a_body_that_now_clashes_with_another_group_is_refused() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", b"# TYPE m gauge\nm 1\n", None, False, 1.0)
    registry.push("PUT", "job/a", b"n 1\n", None, False, 2.0)  # m is no longer a's
    registry.push("PUT", "job/b", b"# TYPE m counter\nm 1\n", None, False, 3.0)
    with pytest.raises(InconsistentPushError, match=r'collected metric "m" .* is not a COUNTER'):
        registry.push("PUT", "job/a", b"# TYPE m gauge\nm 2\n", None, False, 4.0)
    assert registry.get((("job", "a"),)).failure_time == 4.0  # type: ignore[union-attr]


def test_a_repeat_after_another_group_pushed_other_help_shows_its_own_again() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", b"# HELP m From a.\nm 1\n", None, False, 1.0)
    registry.push("PUT", "job/b", b"# HELP m From b.\nm 1\n", None, False, 2.0)
    assert "# HELP m From b.\n" in registry.render_text()
    registry.push("PUT", "job/a", b"# HELP m From a.\nm 5\n", None, False, 3.0)
    assert "# HELP m From a.\n" in registry.render_text()


def test_a_put_repeat_still_removes_families_pushed_since() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", BODY, None, False, 1.0)
    registry.push("POST", "job/a", b"extra 1\n", None, False, 2.0)
    registry.push("POST", "job/a", with_values(BODY, ["5"]), None, False, 3.0)
    registry.push("PUT", "job/a", with_values(BODY, ["6"]), None, False, 4.0)
    assert "extra" not in registry.render_text()


def test_a_repeat_with_a_timestamp_is_refused_and_sets_the_failure_time() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", BODY, None, False, 1.0)
    with pytest.raises(InconsistentPushError, match="must not have timestamps"):
        registry.push("PUT", "job/a", with_values(BODY, ["1 1000"]), None, False, 2.0)
    assert 'push_failure_time_seconds{instance="",job="a"} 2\n' in registry.render_text()


def test_a_repeat_with_a_value_the_parser_refuses_gets_the_parsers_error() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", BODY, None, False, 1.0)
    with pytest.raises(TextParseError) as refused:
        registry.push("PUT", "job/a", with_values(BODY, ["1", "1_000"]), None, False, 2.0)
    assert refused.value.line == 5


def test_a_negative_zero_keeps_its_sign_where_the_api_shows_it() -> None:
    fast, full = GroupRegistry(), FullPathOnly()
    for registry in (fast, full):
        registry.push("PUT", "job/a", BODY, None, False, 1.0)
        registry.push("PUT", "job/a", with_values(BODY, ["-0"]), None, False, 2.0)
    assert api_metrics(fast) == api_metrics(full)
    assert api_metrics(fast)[0]["a"]["metrics"][0]["value"] == "-0"


def test_a_gzipped_repeat_takes_the_fast_path_too(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", gzip.compress(BODY), None, True, 1.0)
    monkeypatch.setattr(registry_module, "read_text", None)
    registry.push("PUT", "job/a", gzip.compress(with_values(BODY, ["7"])), None, True, 2.0)
    assert 'c{instance="",job="a"} 7\n' in registry.render_text()


def test_a_restored_group_takes_the_fast_path_after_its_next_push() -> None:
    source = GroupRegistry()
    source.push("PUT", "job/a", BODY, None, False, 1.0)
    restored = GroupRegistry()
    restored.restore_group(source.snapshot_group((("job", "a"),)))
    for now, value in ((2.0, "8"), (3.0, "9")):
        for registry in (source, restored):
            registry.push("PUT", "job/a", with_values(BODY, [value]), None, False, now)
    assert everything(restored) == everything(source)


def test_a_python_client_body_repeated_ends_where_the_full_path_ends() -> None:
    fast, full = GroupRegistry(), FullPathOnly()
    body = python_client_body()
    for number, values in enumerate((["1"], ["2", "3.5"], ["-0", "4"], ["5"])):
        repeat = with_values(body, values)
        assert outcome(fast, "PUT", "job/py", repeat, number) == outcome(
            full, "PUT", "job/py", repeat, number
        )
    assert everything(fast) == everything(full)
    assert api_metrics(fast) == api_metrics(full)


VALUES = [
    "0", "1", "-1", "2.5", "1e6", "1e+06", "123456789", ".5", "5.", "+Inf", "-Inf", "inf",
    "Infinity", "NaN", "nan", "1e-7", "-0", "-0.0",
]  # fmt: skip
REFUSED_VALUES = ["0x1p3", "1_000", "1e999", "", "1 1000", "1\t", "\u00e9", "1\r", "1 "]

steps = st.lists(
    st.tuples(
        st.sampled_from(["PUT", "POST", "DELETE", "REPEAT PUT", "REPEAT POST"]),
        st.sampled_from(GROUPS),
        bodies(),
        st.lists(st.sampled_from(VALUES * 3 + REFUSED_VALUES), min_size=1, max_size=3),
        st.booleans(),
    ),
    max_size=16,
)


@settings(max_examples=400, deadline=None)
@given(steps)
def test_it_ends_where_the_full_path_ends(operations: list[Any]) -> None:
    fast, full = GroupRegistry(), FullPathOnly()
    last_body: dict[str, bytes] = {}
    for number, (method, path, text, values, gzipped) in enumerate(operations):
        if method == "DELETE":
            assert fast.delete(path) == full.delete(path)
            continue
        body = text.encode()
        if method.startswith("REPEAT"):
            method = method.removeprefix("REPEAT ")
            body = with_values(last_body.get(path, body), values)
        last_body[path] = body
        if gzipped:
            body = gzip.compress(body)
        now = 100.0 + number
        assert outcome(fast, method, path, body, now) == outcome(full, method, path, body, now)
        assert everything(fast) == everything(full)
    assert api_metrics(fast) == api_metrics(full)


def test_a_repeat_beyond_a_lowered_series_limit_is_refused() -> None:
    registry = GroupRegistry()
    registry.push("PUT", "job/a", BODY, None, False, 1.0)
    registry.max_series_per_group = 3
    with pytest.raises(PushTooLargeError):
        registry.push("PUT", "job/a", with_values(BODY, ["2"]), None, False, 2.0)
