"""What the registry holds per grouping key, and what it tells others about a group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchgate.collector.pushgateway.consistency import timestamp_metric
from batchgate.collector.pushgateway.exposition import render_labels
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.series_index import SortKey, sort_key

if TYPE_CHECKING:
    from batchgate.collector.pushgateway.same_shape import AddedUp, BodyShape


@dataclass(slots=True)
class StoredFamily:
    """One family of one group: its series' keys and slots in the index, in push order.

    The family itself is not kept: parsing its rendered text gives it back (JSON API,
    persistence), except where noted by `synthetic` and `exact`.
    """

    name: str
    type: int
    help: str | None
    pushed_at: float
    keys: tuple[SortKey, ...]
    slots: tuple[int, ...]
    """Where the index keeps the text of each of `keys` (FamilyEntry.blocks)."""
    synthetic: tuple[int, ...]
    """Metrics (by position) whose `+Inf` bucket was added by the rendering."""
    exact: bytes | None
    """The family as protobuf when its text does not give it back exactly (rare)."""


class Group:
    """One grouping key's families and its two timestamps."""

    __slots__ = (
        "added_up",
        "created",
        "failure_time",
        "failure_time_slot",
        "families",
        "key",
        "label_key",
        "labels_text",
        "push_time",
        "push_time_slot",
        "series_count",
        "shape",
        "snapshot_header",
        "version",
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
        self.push_time_slot = -1
        self.failure_time_slot = -1
        """The slots of its push_time_seconds and push_failure_time_seconds series (set by
        the registry when it indexes the group)."""
        self.shape: BodyShape | None = None
        """The last text body accepted for the group, if a repeat of it can take the fast
        path (see `same_shape`); None whenever the group's families change otherwise."""
        self.added_up: AddedUp | None = None
        """What the last aggregating push on that path wrote, as floats too."""
        self.series_count: int | None = None
        """How many series its families hold, once counted (None when they change)."""
        self.snapshot_header: str | None = None
        """The first line of the group's snapshot, kept until its families change."""
        self.version = 0
        """Counts the changes to its families (not to their values): what was found out
        about them (`same_shape.ValueSlots`) holds while it is unchanged."""

    @property
    def last_push_successful(self) -> bool:
        return self.push_time >= self.failure_time

    @property
    def series(self) -> int:
        """How many series its families hold (its two timestamps not counted)."""
        if self.series_count is None:
            self.series_count = sum(len(family.keys) for family in self.families.values())
        return self.series_count


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
