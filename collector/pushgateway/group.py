"""What the registry holds per grouping key, and what it tells others about a group."""

from __future__ import annotations

from dataclasses import dataclass

from collector.pushgateway.consistency import timestamp_metric
from collector.pushgateway.exposition import render_labels
from collector.pushgateway.grouping_key import GroupingKey
from collector.pushgateway.series_index import SortKey, sort_key


@dataclass(slots=True)
class StoredFamily:
    """One family of one group: the keys of its series (their text lives in the index).

    The family itself is not kept: parsing its rendered text gives it back (JSON API,
    persistence), except where noted by `synthetic` and `exact`.
    """

    name: str
    type: int
    help: str | None
    pushed_at: float
    keys: tuple[SortKey, ...]
    synthetic: tuple[int, ...]
    """Metrics (by position) whose `+Inf` bucket was added by the rendering."""
    exact: bytes | None
    """The family as protobuf when its text does not give it back exactly (rare)."""


class Group:
    """One grouping key's families and its two timestamps."""

    __slots__ = (
        "created",
        "failure_time",
        "families",
        "key",
        "label_key",
        "labels_text",
        "push_time",
    )

    def __init__(self, key: GroupingKey, created: float) -> None:
        self.key = key
        self.created = created
        self.push_time = 0.0
        self.failure_time = 0.0
        self.families: dict[str, StoredFamily] = {}
        labels = timestamp_metric(key, 0.0).labels
        self.label_key = sort_key(labels)
        self.labels_text = render_labels(labels)
        """The group's own series' labels (grouping labels and `instance`), rendered."""

    @property
    def last_push_successful(self) -> bool:
        return self.push_time >= self.failure_time

    @property
    def series(self) -> int:
        return sum(len(family.keys) for family in self.families.values())


@dataclass(frozen=True, slots=True)
class PushResult:
    key: GroupingKey
    created: bool
    """True when the push created the group."""
    series: int
    """Series the group holds now (its two timestamps not counted)."""


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """What other parts of batchgate need of a group (e.g. to show it as a job)."""

    key: GroupingKey
    created: float
    push_time: float
    """Last successful push (0: never succeeded)."""
    failure_time: float
    """Last refused push (0: never)."""
    series: int


def summary_of(group: Group) -> GroupSummary:
    return GroupSummary(group.key, group.created, group.push_time, group.failure_time, group.series)
