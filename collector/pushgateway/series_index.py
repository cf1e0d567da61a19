"""The merged view across groups: per metric name, its type, HELP, and every series, sorted.

This is what makes a push cost the same whatever is stored: a family name maps to its type
and the number of groups using it (type and suffix clashes are dictionary lookups), and
each series (name + labels) to the group that owns it (a duplicate is a binary search).
The same structure serves the scrape: each family keeps its series' pre-rendered text, joins
it in the Pushgateway's exposition order, and caches the joined text until something changes.
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from typing import Final

from batchgate.collector.pushgateway.exposition import family_header
from batchgate.collector.pushgateway.grouping_key import GroupingKey

SortKey = tuple[object, ...]
"""A series' labels as client_golang sorts metrics: `(label count, *values in label-name
order, names)`; the names make the key the series' identity within its family too."""

_shared_names: dict[tuple[str, ...], tuple[str, ...]] = {}
_MAX_SHARED: Final = 100_000
_SHORT: Final = 64


def sort_key(labels: list[tuple[str, str]]) -> SortKey:
    """The key of a series whose labels are sorted by name."""
    return key_of(tuple([name for name, _ in labels]), [value for _, value in labels])


def key_of(names: tuple[str, ...], values: list[str]) -> SortKey:
    """The key of a series from its label names (sorted) and their values.

    Label-name tuples and short values are shared between series: a hundred thousand series
    mostly repeat a few names and values, and the key is kept for each of them.
    """
    shared = _shared_names.get(names)
    if shared is None:
        shared = names
        if len(_shared_names) < _MAX_SHARED:
            _shared_names[names] = names
    intern = sys.intern
    return (
        len(values),
        *[intern(value) if len(value) <= _SHORT else value for value in values],
        shared,
    )


class FamilyEntry:
    """One metric name across all groups.

    Each series has a slot, fixed for as long as it is stored: its text and owner live at
    that slot in `blocks` and `owners`, while `keys` and `slots` keep the series sorted. A
    group keeps its series' slots, so rewriting a value (the usual push) touches one list
    item, without searching among every group's series. Slots are plain integers, so the
    garbage collector has nothing more to scan per series.
    """

    __slots__ = (
        "blocks",
        "cached",
        "free",
        "groups",
        "help",
        "helps",
        "keys",
        "name",
        "owners",
        "slots",
        "type",
    )

    def __init__(self, name: str, family_type: int) -> None:
        self.name = name
        self.type = family_type
        self.groups = 0
        """How many groups hold a family of this name (empty ones included, as in gathering)."""
        self.helps: dict[str | None, int] = {}
        """How many of those groups pushed each HELP (None: pushed without one)."""
        self.help: str | None = None
        """The HELP exposed: the latest push's, as the Pushgateway intends ("the latter wins")."""
        self.keys: list[SortKey] = []
        """Every series' key, sorted: the exposition's order."""
        self.slots: list[int] = []
        """The slot of each of `keys`, position for position."""
        self.blocks: list[str] = []
        """By slot: the series' exposition lines ("" for a free slot)."""
        self.owners: list[GroupingKey] = []
        """By slot: the group holding the series."""
        self.free: list[int] = []
        """Slots of removed series, to be used again."""
        self.cached: str | None = None

    def find(self, key: SortKey) -> int:
        """The position of the series `key` in `keys`, or -1."""
        index = bisect_left(self.keys, key)
        if index < len(self.keys) and self.keys[index] == key:
            return index
        return -1

    def owner(self, key: SortKey) -> GroupingKey | None:
        index = self.find(key)
        return self.owners[self.slots[index]] if index >= 0 else None

    def insert(self, key: SortKey, block: str, owner: GroupingKey) -> int:
        """Store a new series; its slot."""
        if self.free:
            slot = self.free.pop()
            self.blocks[slot] = block
            self.owners[slot] = owner
        else:
            slot = len(self.blocks)
            self.blocks.append(block)
            self.owners.append(owner)
        index = bisect_left(self.keys, key)
        self.keys.insert(index, key)
        self.slots.insert(index, slot)
        self.cached = None
        return slot

    def set_block(self, slot: int, block: str) -> None:
        """Rewrite one series (the scrape text is re-joined only if it changed)."""
        if self.blocks[slot] != block:
            self.blocks[slot] = block
            self.cached = None

    def remove(self, key: SortKey) -> None:
        index = self.find(key)
        slot = self.slots[index]
        del self.keys[index]
        del self.slots[index]
        self.blocks[slot] = ""
        self.free.append(slot)
        self.cached = None

    def add_help(self, help_text: str | None) -> None:
        self.helps[help_text] = self.helps.get(help_text, 0) + 1
        self.show_help(help_text)

    def show_help(self, help_text: str | None) -> None:
        """Expose `help_text`: a push's HELP is shown until another push of the name."""
        if self.help != help_text:
            self.help = help_text
            self.cached = None

    def drop_help(self, help_text: str | None) -> None:
        remaining = self.helps[help_text] - 1
        if remaining:
            self.helps[help_text] = remaining
            return
        del self.helps[help_text]
        if self.help == help_text and self.helps:
            self.help = next(iter(self.helps))
            self.cached = None

    def text(self) -> str:
        if self.cached is None:
            blocks = self.blocks
            text = "".join([blocks[slot] for slot in self.slots])
            self.cached = family_header(self.name, self.help, self.type) + text
        return self.cached


class SeriesIndex:
    """All family entries, and the scrape text they join into."""

    EMPTY: Final = ""

    def __init__(self) -> None:
        self.families: dict[str, FamilyEntry] = {}
        self._sorted_names: list[str] | None = None
        self._text: str | None = None

    def get(self, name: str) -> FamilyEntry | None:
        return self.families.get(name)

    def entry(self, name: str, family_type: int) -> FamilyEntry:
        """The entry for `name`, created (with `family_type`) if absent."""
        entry = self.families.get(name)
        if entry is None:
            entry = self.families[name] = FamilyEntry(name, family_type)
            self._sorted_names = None
        return entry

    def discard_if_unused(self, entry: FamilyEntry) -> None:
        if entry.groups == 0:
            del self.families[entry.name]
            self._sorted_names = None

    def changed(self) -> None:
        self._text = None

    def clear(self) -> None:
        self.families.clear()
        self._sorted_names = None
        self._text = None

    def render(self) -> str:
        """Every family with at least one series, sorted by name, as one exposition text."""
        if self._text is None:
            if self._sorted_names is None:
                self._sorted_names = sorted(self.families)
            families = self.families
            self._text = "".join(
                entry.text()
                for entry in (families[name] for name in self._sorted_names)
                if entry.keys
            )
        return self._text
