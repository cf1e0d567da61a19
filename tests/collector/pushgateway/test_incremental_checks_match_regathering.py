"""The incremental checks decide exactly what re-gathering everything would decide.

A naive model applies each push to a copy of all groups and checks the whole result the way
client_golang's gathering does (one type per name, no `_count`/`_sum`/`_bucket` clash with a
summary or histogram, no series twice, no `__` label names). Over random sequences of PUT,
POST and DELETE on overlapping groups (including `instance=""`, which aliases the group
without an instance), the registry must accept and refuse the same pushes, hold the same
series, and render the same scrape as a from-scratch merge of what it holds.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgate.collector.pushgateway import (
    BodyParseError,
    GroupRegistry,
    InconsistentPushError,
    parse_grouping_key,
    parse_text,
)
from batchgate.collector.pushgateway.consistency import PUSH_FAILURE_TIME, PUSH_TIME
from batchgate.collector.pushgateway.exposition import family_header, render_labels, render_metric
from batchgate.collector.pushgateway.model import HISTOGRAM, SUMMARY

GROUPS = ["job/j1", "job/j2", "job/j1/instance/", "job/j1/instance/i1", "job/j2/k/x"]
NAMES = ["a", "a_count", "a_sum", "a_bucket", "b", "c"]
TYPES = ["counter", "gauge", "histogram", "summary", "untyped"]
Series = tuple[str, frozenset[tuple[str, str]]]


@st.composite
def bodies(draw: st.DrawFn) -> str:
    lines = []
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True)):
        family_type = draw(st.sampled_from(TYPES))
        lines.append(f"# TYPE {name} {family_type}")
        for label in draw(st.lists(st.sampled_from(["", "x", "y", "__z"]), min_size=1, max_size=3)):
            labels = f'k="{label}"' if label and label != "__z" else ('__z="1"' if label else "")
            inner = "{" + labels + "}" if labels else ""
            joined = "{" + labels + "," if labels else "{"
            if family_type == "histogram":
                lines.append(f'{name}_bucket{joined}le="1"}} 1')
                lines.append(f"{name}_count{inner} 1")
            elif family_type == "summary":
                lines.append(f'{name}{joined}quantile="0.5"}} 1')
                lines.append(f"{name}_sum{inner} 2")
            else:
                lines.append(f"{name}{inner} 1")
    return "".join(line + "\n" for line in lines)


operations = st.lists(
    st.tuples(
        st.sampled_from(["PUT", "POST", "DELETE", "REPEAT PUT", "REPEAT POST"]),
        st.sampled_from(GROUPS),
        bodies(),
    ),
    max_size=12,
)
"""REPEAT: the body last pushed to that group again, with new values (the fast path's case)."""


def with_values(body: bytes, values: list[str]) -> bytes:
    """`body` with the value of its n-th sample line replaced by values[n] (cycling)."""
    lines = body.split(b"\n")
    count = 0
    for index, line in enumerate(lines):
        if line and not line.startswith(b"#"):
            head, _, _ = line.rpartition(b" ")
            lines[index] = head + b" " + values[count % len(values)].encode()
            count += 1
    return b"\n".join(lines)


class Regathering:
    """The store as the Pushgateway checks it: apply to a copy, then check everything."""

    def __init__(self) -> None:
        self.groups: dict[tuple[tuple[str, str], ...], dict[str, tuple[int, list[Series]]]] = {}

    @staticmethod
    def labels(key: tuple[tuple[str, str], ...], pairs: list[tuple[str, str]]) -> frozenset:
        merged = dict(pairs)
        merged.update(key)
        merged.setdefault("instance", "")
        return frozenset(merged.items())

    def consistent(self, groups: dict) -> bool:
        types: dict[str, int] = {}
        series: set[Series] = set()
        for key, families in groups.items():
            stamps = [(PUSH_TIME, self.labels(key, [])), (PUSH_FAILURE_TIME, self.labels(key, []))]
            for name, labels in stamps:
                if (name, labels) in series:
                    return False
                series.add((name, labels))
            for name, (family_type, metrics) in families.items():
                if types.setdefault(name, family_type) != family_type:
                    return False
                for one in metrics:
                    if one in series or any(label.startswith("__") for label, _ in one[1]):
                        return False
                    series.add(one)
        for name, family_type in types.items():
            if family_type in (SUMMARY, HISTOGRAM) and (
                name + "_count" in types or name + "_sum" in types
            ):
                return False
            if family_type == HISTOGRAM and name + "_bucket" in types:
                return False
        return True

    def push(self, method: str, key: tuple, body: bytes) -> bool:
        families = {
            name: (
                family.type_or_default,
                [(name, self.labels(key, metric.labels)) for metric in family.metrics],
            )
            for name, family in parse_text(body).items()
        }
        after = dict(self.groups)
        after[key] = families if method == "PUT" else {**self.groups.get(key, {}), **families}
        if self.consistent(after):
            self.groups = after
            return True
        if key not in self.groups and self.consistent({**self.groups, key: {}}):
            self.groups[key] = {}  # The failure time is recorded on a new, empty group.
        return False


def held_series(registry: GroupRegistry) -> set[Series]:
    held: set[Series] = set()
    for summary in registry.groups():
        for family, _ in registry.group_families(summary.key):
            if family.name not in (PUSH_TIME, PUSH_FAILURE_TIME):
                held.update((family.name, frozenset(metric.labels)) for metric in family.metrics)
    return held


def merged_from_scratch(registry: GroupRegistry) -> str:
    families: dict[str, tuple[str, list[tuple[tuple, str]]]] = {}
    for summary in registry.groups():
        for family, _ in registry.group_families(summary.key):
            header = family_header(family.name, family.help, family.type_or_default)
            _, blocks = families.setdefault(family.name, (header, []))
            for metric in family.metrics:
                labels = metric.labels
                key = (len(labels), [v for _, v in labels], [n for n, _ in labels])
                text = render_metric(
                    family.name, family.type_or_default, metric, render_labels(labels)
                )
                blocks.append((key, text))
    return "".join(
        header + "".join(text for _, text in sorted(blocks))
        for _, (header, blocks) in sorted(families.items())
        if blocks
    )


@settings(max_examples=400, deadline=None)
@given(operations)
def test_it_accepts_and_refuses_what_regathering_would(steps: list) -> None:
    registry = GroupRegistry()
    model = Regathering()
    last_body: dict[str, bytes] = {}
    for number, (method, path, text) in enumerate(steps):
        key = parse_grouping_key(path)
        if method == "DELETE":
            registry.delete(path)
            model.groups.pop(key, None)
            continue
        body = text.encode()
        if method.startswith("REPEAT "):
            method = method.removeprefix("REPEAT ")
            body = with_values(last_body.get(path, body), [str(number), "1.5", "-2"])
        last_body[path] = body
        try:
            registry.push(method, path, body, None, False, 1000.0 + number)
            accepted = True
        except InconsistentPushError:
            accepted = False
        except BodyParseError:
            continue
        assert accepted == model.push(method, key, body)
        assert {summary.key for summary in registry.groups()} == set(model.groups)
        expected = {
            one
            for families in model.groups.values()
            for _, held in families.values()
            for one in held
        }
        assert held_series(registry) == expected
        assert registry.render_text() == merged_from_scratch(registry)
