"""Checking one push against itself and against what is stored, at the cost of the push alone.

The Pushgateway applies a push to a copy of everything and re-gathers it all through
client_golang, whose gathering rejects: a metric whose value does not match its family's
type (also across groups: a name with two types), invalid or duplicate label names, an
explicit `quantile` label on a summary, label values that are not UTF-8, a series (name +
labels) present twice, and names that collide with a histogram's or summary's
`_count`/`_sum`/`_bucket` series. Because what is stored is always consistent, every such
error involves the push; so the same checks are run here on the push only, with the
stored side looked up in the SeriesIndex. Messages are client_golang's, word for word.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from batchgate.collector.pushgateway.dto_text import metric_text
from batchgate.collector.pushgateway.exposition import (
    has_synthetic_infinity_bucket,
    render_labels,
    render_metric,
    text_round_trips,
)
from batchgate.collector.pushgateway.goformat import format_sample_value, go_quote, is_valid_utf8
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    SUPPORTED_TYPES,
    TYPE_NAMES,
    UNTYPED,
    Metric,
    MetricFamily,
    Value,
    value_field,
)
from batchgate.collector.pushgateway.protobuf_encoding import encode_family
from batchgate.collector.pushgateway.series_index import SeriesIndex, SortKey, key_of, sort_key

PUSH_TIME: Final = "push_time_seconds"
PUSH_TIME_HELP: Final = "Last Unix time when changing this group in the Pushgateway succeeded."
PUSH_FAILURE_TIME: Final = "push_failure_time_seconds"
PUSH_FAILURE_TIME_HELP: Final = "Last Unix time when changing this group in the Pushgateway failed."
TIMESTAMP_FAMILIES: Final = frozenset({PUSH_TIME, PUSH_FAILURE_TIME})
TIMESTAMP_ERROR: Final = "pushed metrics must not have timestamps"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_valid_label_names: set[str] = set()
_checked_shapes: set[tuple[tuple[str, ...], bool, bool]] = set()
"""Label-name tuples (and whether the metric is a summary, a histogram) found valid."""
_SCALAR_TYPES: Final = frozenset({COUNTER, GAUGE, UNTYPED})
_valid_metric_names: set[str] = set()


@dataclass(slots=True)
class PreparedFamily:
    """A pushed family ready to be stored: sanitized and rendered."""

    name: str
    type: int
    help: str | None
    keys: list[SortKey]
    blocks: list[str]
    synthetic: tuple[int, ...]
    """Metrics (by position) whose `+Inf` bucket the rendering added."""
    exact: bytes | None
    """The family as protobuf, kept only when its text does not give it back exactly."""


@dataclass(slots=True)
class Reserved:
    """Metric names the push may not use: batchgate's own (exact names with their types)."""

    families: Mapping[str, int]
    prefixes: tuple[str, ...]

    def reason(self, name: str) -> str | None:
        if name in self.families or name.startswith(self.prefixes):
            return f"metric family {go_quote(name)} is reserved for the server's own metrics"
        return None


def sanitize_labels(labels: list[tuple[str, str]], grouping: GroupingKey) -> list[tuple[str, str]]:
    """sanitizeLabels: grouping labels override, `instance=""` if absent, sorted by name."""
    not_yet_done = dict(grouping)
    result: list[tuple[str, str]] = []
    has_instance = False
    for name, value in labels:
        if name in not_yet_done:
            value = not_yet_done.pop(name)
        if name == "instance":
            has_instance = True
        result.append((name, value))
    if not_yet_done:
        result.extend(not_yet_done.items())
        has_instance = has_instance or "instance" in not_yet_done
    if not has_instance:
        result.append(("instance", ""))
    result.sort(key=_label_name)
    return result


_label_name = operator.itemgetter(0)


def has_timestamps(families: Collection[MetricFamily]) -> bool:
    for family in families:
        for metric in family.metrics:
            if metric.timestamp_ms is not None:
                return True
    return False


def _metric_error(name: str, metric: Metric, reason: str) -> str:
    return f"collected metric {go_quote(name)} {{ {metric_text(metric)}}} {reason}"


def _label_errors(name: str, metric: Metric) -> str | None:
    """checkMetricConsistency's label loop: the first problem with the metric's labels."""
    previous = ""
    for label, value in metric.labels:
        if label == previous:
            return _metric_error(
                name, metric, f"has two or more labels with the same name: {label}"
            )
        if label not in _valid_label_names:
            if _LABEL_NAME.fullmatch(label) is None or label.startswith("__"):
                return _metric_error(name, metric, f"has a label with an invalid name: {label}")
            if len(_valid_label_names) < 10_000:
                _valid_label_names.add(label)
        if metric.summary is not None and label == "quantile":
            return _metric_error(name, metric, 'must not have an explicit "quantile" label')
        if metric.histogram is not None and label == "le":
            # Not checked by client_golang 1.14: the exposition would repeat `le`.
            return _metric_error(name, metric, 'must not have an explicit "le" label')
        if not is_valid_utf8(value):
            return _metric_error(
                name,
                metric,
                f"has a label named {go_quote(label)} whose value is not utf8: {go_quote(value)}",
            )
        previous = label
    return None


def family_error(family: MetricFamily, reserved: Reserved) -> str | None:
    """What makes a whole family unacceptable before its metrics are looked at (batchgate's)."""
    if family.name not in _valid_metric_names:
        if _METRIC_NAME.fullmatch(family.name) is None:
            return f"{go_quote(family.name)} is not a valid metric name"
        if len(_valid_metric_names) < 100_000:
            _valid_metric_names.add(family.name)
    family_type = family.type_or_default
    if family_type not in SUPPORTED_TYPES:
        type_name = TYPE_NAMES.get(family_type, str(family_type))
        return (
            f"metric family {go_quote(family.name)} has type {type_name}, "
            "which the text exposition format cannot carry"
        )
    return reserved.reason(family.name)


class PushCheck:
    """One push's checks: fill `errors`, and collect what to store if there are none."""

    def __init__(
        self,
        index: SeriesIndex,
        reserved: Reserved,
        grouping: GroupingKey,
        removed_names: Collection[str],
    ) -> None:
        self.index = index
        self.reserved = reserved
        self.grouping = grouping
        self.removed_names = removed_names
        self.errors: list[str] = []
        self.prepared: list[PreparedFamily] = []
        self._pending_types: dict[str, int] = {}

    def existing_type(self, name: str) -> int | None:
        """The type `name` has after this push, from other groups, the push, or reserved names."""
        entry = self.index.get(name)
        if entry is not None and entry.groups - (name in self.removed_names) > 0:
            return entry.type
        pending = self._pending_types.get(name)
        if pending is not None:
            return pending
        return self.reserved.families.get(name)

    def suffix_collision(self, name: str, family_type: int) -> str | None:
        """checkSuffixCollisions, with the pushed family as the one collected last."""
        base = ""
        if name.endswith("_count"):
            base = name[:-6]
        elif name.endswith("_sum"):
            base = name[:-4]
        elif name.endswith("_bucket"):
            base = name[:-7]
        if base:
            base_type = self.existing_type(base)
            if base_type == SUMMARY and not name.endswith("_bucket"):
                return (
                    f"collected metric named {go_quote(name)} collides with previously "
                    f"collected summary named {go_quote(base)}"
                )
            if base_type == HISTOGRAM:
                return (
                    f"collected metric named {go_quote(name)} collides with previously "
                    f"collected histogram named {go_quote(base)}"
                )
        if family_type in (SUMMARY, HISTOGRAM):
            for suffix in ("_count", "_sum"):
                if self.existing_type(name + suffix) is not None:
                    return (
                        f"collected histogram or summary named {go_quote(name)} collides with "
                        f"previously collected metric named {go_quote(name + suffix)}"
                    )
        if family_type == HISTOGRAM and self.existing_type(name + "_bucket") is not None:
            return (
                f"collected histogram named {go_quote(name)} collides with previously "
                f"collected metric named {go_quote(name + '_bucket')}"
            )
        return None

    def add_family(self, family: MetricFamily) -> None:
        """Check one pushed family (in body order) and prepare it for storing."""
        problem = family_error(family, self.reserved)
        if problem is not None:
            self.errors.append(problem)
            return
        name = family.name
        family_type = family.type_or_default
        stored_type = self.existing_type(name)
        if stored_type is None:
            collision = self.suffix_collision(name, family_type)
            if collision is not None:
                self.errors.append(collision)
                return
            self._pending_types[name] = family_type
            check_type = family_type
        else:
            check_type = stored_type
        entry = self.index.get(name)
        keys: list[SortKey] = []
        blocks: list[str] = []
        synthetic: list[int] = []
        exact = True
        seen: set[SortKey] = set()
        grouping = self.grouping
        errors = self.errors
        scalar = family_type in _SCALAR_TYPES
        for metric in family.metrics:
            labels = sanitize_labels(metric.labels, grouping)
            metric.labels = labels
            holder = value_field(metric, family_type)
            if check_type != family_type or holder is None:
                errors.append(_metric_error(name, metric, f"is not a {TYPE_NAMES[check_type]}"))
                continue
            names = tuple([label for label, _ in labels])
            values = [value for _, value in labels]
            joined = "".join(values)
            shape = (names, metric.summary is not None, metric.histogram is not None)
            if shape not in _checked_shapes or not (joined.isascii() or is_valid_utf8(joined)):
                problem = _label_errors(name, metric)
                if problem is not None:
                    errors.append(problem)
                    continue
                if len(_checked_shapes) < 100_000:
                    _checked_shapes.add(shape)
            key = key_of(names, values)
            owner = entry.owner(key) if entry is not None else None
            if key in seen or (owner is not None and owner != grouping):
                errors.append(
                    _metric_error(
                        name, metric, "was collected before with the same name and label values"
                    )
                )
                continue
            seen.add(key)
            if '"' in joined or "\\" in joined or "\n" in joined:
                labels_text = render_labels(labels)
            else:
                labels_text = ",".join([f'{label}="{value}"' for label, value in labels])
            keys.append(key)
            if scalar:
                assert isinstance(holder, Value)
                value = holder.value
                if value is None:
                    value = 0.0
                elif value == 0 and math.copysign(1.0, value) < 0:
                    exact = False
                blocks.append(f"{name}{{{labels_text}}} {format_sample_value(value)}\n")
                continue
            if family_type == HISTOGRAM and has_synthetic_infinity_bucket(family_type, metric):
                synthetic.append(len(keys) - 1)
            blocks.append(render_metric(name, family_type, metric, labels_text))
            exact = exact and text_round_trips(family_type, metric)
        if not errors:
            self.prepared.append(
                PreparedFamily(
                    name,
                    family_type,
                    family.help,
                    keys,
                    blocks,
                    tuple(synthetic),
                    None if exact else encode_family(family),
                )
            )

    def add_timestamp_series(self, push_time: float) -> None:
        """The new group's own push_time_seconds and push_failure_time_seconds series."""
        for name, value in ((PUSH_TIME, push_time), (PUSH_FAILURE_TIME, 0.0)):
            metric = timestamp_metric(self.grouping, value)
            problem = _label_errors(name, metric)
            if problem is not None:
                self.errors.append(problem)
                continue
            entry = self.index.get(name)
            owner = entry.owner(sort_key(metric.labels)) if entry is not None else None
            if owner is not None and owner != self.grouping:
                self.errors.append(
                    _metric_error(
                        name, metric, "was collected before with the same name and label values"
                    )
                )


def timestamp_metric(grouping: GroupingKey, value: float) -> Metric:
    """A group's push_time_seconds or push_failure_time_seconds metric (newTimestampGauge)."""
    return Metric(sanitize_labels([], grouping), gauge=Value(value))


def timestamp_family(name: str, grouping: GroupingKey, value: float) -> MetricFamily:
    help_text = PUSH_TIME_HELP if name == PUSH_TIME else PUSH_FAILURE_TIME_HELP
    return MetricFamily(name, help_text, GAUGE, [timestamp_metric(grouping, value)])
