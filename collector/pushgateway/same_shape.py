"""The fast path for the usual push: the group's last text body again, with new values.

A batch job pushes the same metrics every time it runs: the same families, TYPE and HELP
lines and label sets; only the sample values change. When a text body is, byte for byte,
the group's last accepted body except for its sample values, the push stores exactly the
series the group holds now, with new values. Such a push needs no check against the rest
of the registry, because:

- what is stored is always consistent, and this group already holds these very series
  under these names and types. Another group cannot hold one of the series, the same name
  with another type, or a name whose `_count`/`_sum`/`_bucket` collides with one of them:
  whichever came second was refused. The push adds no series, name or type and removes
  none (a PUT takes this path only when the group holds nothing else), and only something
  new can clash;
- what the checks read from the push itself is unchanged: names, labels, types and HELP
  are the same bytes as in a push that passed them, the series count is the same (limits),
  and each new value is read as the parser reads it (a token Go's ParseFloat accepts, with
  nothing after it, so no timestamp).

Such a push only parses its values and re-renders their lines. Any other body takes the full
path, which also gives every error: a line that differs, a value the parser refuses, `-0`
(the text loses its sign, so the full path keeps the family in protobuf as well), a broken
gzip stream. Only bodies whose families are all counters, gauges or untyped have a shape:
each of their sample lines is exactly one series. Histograms and summaries (several lines
per series, counts converted as Go does) always take the full path.

The registry keeps one shape per group, built after a text push that created the group or
kept the series it held (so not for a group whose label values change with every push: its
shape would never be used), and dropped whenever the group's families change otherwise.
tests/collector/pushgateway/test_same_shape_pushes.py holds the fast path to the full path's
results.
"""

from __future__ import annotations

import math
import re
import weakref
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter, getitem
from typing import Final

from batchgate.collector.pushgateway.goformat import (
    canonical_value,
    format_sample_value,
    parse_go_float,
)
from batchgate.collector.pushgateway.group import Group, StoredFamily
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.model import COUNTER, GAUGE, UNTYPED
from batchgate.collector.pushgateway.series_index import FamilyEntry, SeriesIndex
from batchgate.collector.pushgateway.text_parser import TextBody

_ONE_SERIES_PER_LINE: Final = frozenset({COUNTER, GAUGE, UNTYPED})
_SAMPLE_VALUES: Final = re.compile(rb"^[^#\n][^\n]* ([^ \n]*)$", re.MULTILINE)
"""The value of each sample line: a line that is not a comment, after its last blank."""
_PLAIN_VALUE: Final = rb"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_VALUES: Final = re.compile(rb"(?:%s(?:\n%s)*)?" % (_PLAIN_VALUE, _PLAIN_VALUE))
"""Values joined by newlines, each a decimal without a sign (so neither negative nor -0),
that Go's ParseFloat and Python's float() read to the same float (both round correctly)."""
_BLOCKS_OF: Final = attrgetter("blocks")
_SAMPLE_LINE: Final = "{}{}\n".format
"""A series' text from what comes before its value (`name{labels} `) and its value."""


class Chunks:
    """A body cut at its values. Groups pushed by copies of one program cut their bodies
    into the same chunks, which are then held once (while a group uses them)."""

    __slots__ = ("__weakref__", "parts")

    def __init__(self, parts: tuple[bytes, ...]) -> None:
        self.parts = parts


_shared_chunks: weakref.WeakValueDictionary[tuple[bytes, ...], Chunks] = (
    weakref.WeakValueDictionary()
)


@dataclass(frozen=True, slots=True)
class BodyShape:
    """A text body accepted for a group, cut at its sample values, and where each goes."""

    chunks: Chunks
    """The body without its values: parts[0], value 1, parts[1], ..., value n, parts[n].
    Every part after the first starts with the newline that ends a sample line."""
    prefix_lengths: tuple[int, ...]
    """How much of each value's series text comes before its value: `name{labels} `."""
    entries: tuple[FamilyEntry, ...]
    """The index entry of each value's series."""
    slots: tuple[int, ...]
    """The slot of each value's series in its entry."""
    families: tuple[StoredFamily, ...]
    """The group's families this body holds."""
    family_entries: tuple[FamilyEntry, ...]

    def new_blocks(self, body: bytes) -> list[str] | None:
        """Each value's series text after `body`, if `body` is this shape with other values.

        None for any other body, and for any value the full path treats differently: one
        the parser refuses (the full path reports it), and `-0` (see the module's docstring).
        """
        parts = self.chunks.parts
        if not body.startswith(parts[0]):
            return None
        position = len(parts[0])
        blocks = []
        values = zip(parts[1:], self.entries, self.slots, self.prefix_lengths, strict=True)
        for part, entry, slot, length in values:
            end = body.find(b"\n", position)
            if end < 0:
                return None
            token = body[position:end]
            text = canonical_value(token)
            if text is None:
                # latin-1 decodes any byte; a non-ASCII token is refused by parse_go_float.
                value = parse_go_float(token.decode("latin-1"))
                if value is None or (value == 0 and math.copysign(1.0, value) < 0):
                    return None
                text = format_sample_value(value)
            if not body.startswith(part, end):
                return None
            blocks.append(f"{entry.blocks[slot][:length]}{text}\n")
            position = end + len(part)
        return blocks if position == len(body) else None

    def new_tokens(self, body: bytes) -> list[bytes] | None:
        """Each value's token in `body`, if `body` is this shape with other tokens (each
        without a blank or a newline); else None. Found in bulk, by the `re` module, then
        proved: the shape's parts with these tokens between them must give `body` back, and
        they give it back with no other tokens, since each ends where the next part starts
        with its newline."""
        tokens = _SAMPLE_VALUES.findall(body)
        parts = self.chunks.parts
        if len(tokens) != len(parts) - 1:
            return None
        rebuilt = b"".join([*chain.from_iterable(zip(parts[:-1], tokens, strict=True)), parts[-1]])
        return tokens if rebuilt == body else None

    def new_values(self, body: bytes) -> list[float] | None:
        """Each value of `body`, if `body` is this shape with other values (else None, as
        `new_blocks`, and for the same values): what an aggregating push adds."""
        tokens = self.new_tokens(body)
        if tokens is None:
            return None
        if _PLAIN_VALUES.fullmatch(b"\n".join(tokens)) is not None:
            # The usual body: float() reads each as Go's ParseFloat does, but rounds one
            # out of range to infinity where Go refuses it (the full path says why).
            values = list(map(float, tokens))
            return None if math.inf in values else values
        values = []
        for token in tokens:
            # latin-1 decodes any byte; a non-ASCII token is refused by parse_go_float.
            value = parse_go_float(token.decode("latin-1"))
            if value is None or (value == 0 and math.copysign(1.0, value) < 0):
                return None
            values.append(value)
        return values

    def stored_blocks(self) -> list[str]:
        """Each value's series text as the group holds it now."""
        return list(map(getitem, map(_BLOCKS_OF, self.entries), self.slots))

    def stored_values(self, stored: list[str]) -> list[float]:
        """The value of each series text `stored` (`stored_blocks`): `float` reads what
        `format_sample_value` wrote back as the same float."""
        values = map(str.__getitem__, stored, map(slice, self.prefix_lengths, repeat(-1)))
        return list(map(float, values))

    def with_values(self, stored: list[str], texts: Iterable[str]) -> list[str]:
        """Each series text `stored` with its value written as `texts` says instead."""
        prefixes = map(str.__getitem__, stored, map(slice, self.prefix_lengths))
        return list(map(_SAMPLE_LINE, prefixes, texts))

    def store(self, blocks: Sequence[str]) -> None:
        """Write what `new_blocks` made into the series."""
        for entry, slot, block in zip(self.entries, self.slots, blocks, strict=True):
            entry.set_block(slot, block)


def body_shape(
    body: TextBody, data: bytes, pushed: Sequence[StoredFamily], index: SeriesIndex
) -> BodyShape | None:
    """The shape of the text `data` (read as `body`), just accepted for a group and stored as
    `pushed`; None when a repeat of it cannot take the fast path."""
    if not body.fast_only:
        return None
    by_name = {}
    for family in pushed:
        if family.type not in _ONE_SERIES_PER_LINE or family.exact is not None:
            return None
        by_name[family.name] = family
    lines_seen = dict.fromkeys(by_name, 0)
    text = data.decode("utf-8")  # It is: the fast tier read it all.
    chunks: list[str] = []
    prefix_lengths: list[int] = []
    entries: list[FamilyEntry] = []
    slots: list[int] = []
    chunk_start = line_start = 0
    for line in text.split("\n"):
        # The fast tier read every line (so the body ends with a newline): the lines that
        # do not start with `#` are sample lines `name{labels} value`, the value after the
        # last space; each is the next series of its family, the order they were stored in.
        if line and line[0] != "#":
            value_start = line.rindex(" ") + 1
            held = by_name.get(line[: value_start - 1].partition("{")[0])
            if held is None:
                return None  # push_time_seconds, which a push cannot set.
            position = lines_seen[held.name]
            if position == len(held.slots):
                return None  # Never expected: the body was stored as `pushed`.
            lines_seen[held.name] = position + 1
            entry = index.families[held.name]
            slot = held.slots[position]
            chunks.append(text[chunk_start : line_start + value_start])
            chunk_start = line_start + len(line)
            prefix_lengths.append(entry.blocks[slot].rindex(" ") + 1)
            entries.append(entry)
            slots.append(slot)
        line_start += len(line) + 1
    chunks.append(text[chunk_start:])
    if any(lines_seen[family.name] != len(family.slots) for family in pushed):
        return None  # Never expected: the body was stored as `pushed`.
    encoded = tuple([chunk.encode("utf-8") for chunk in chunks])
    shared = _shared_chunks.get(encoded)
    if shared is None:
        shared = _shared_chunks[encoded] = Chunks(encoded)
    return BodyShape(
        shared,
        tuple(prefix_lengths),
        tuple(entries),
        tuple(slots),
        tuple(pushed),
        tuple([index.families[family.name] for family in pushed]),
    )


@dataclass(frozen=True, slots=True)
class AddedUp:
    """What an aggregating push on the fast path wrote: each series' text and its value as
    a float, so that the next one need not read the values back from the text."""

    blocks: list[str]
    totals: array[float]

    def values(self, stored: list[str]) -> array[float] | None:
        """The values of the series texts `stored`, if they are the texts written (else
        None). Each text is its value as `format_sample_value` writes it, which reads back
        as the same float (a sum is never -0, whose sign the text would lose), so an equal
        text, whoever wrote it, has the kept value."""
        return self.totals if stored == self.blocks else None


@dataclass(frozen=True, slots=True)
class ValueSlots:
    """Where some stored series of a group are, to write new values into them without a
    check (`MergingPushes.rewrite_values`): what a repeat of an export of exactly these
    series needs, for the reasons the module's text gives for a text body. Only counters,
    gauges and untyped series, one line each. It holds while the group's families are
    unchanged (`Group.version`)."""

    group: Group
    version: int
    entries: tuple[FamilyEntry, ...]
    """The index entry of each series."""
    slots: array[int]
    """The slot of each series in its entry (an array: kept for every series of a group
    that repeats its exports, it must cost little memory)."""
    prefix_lengths: array[int]
    """How much of each series' text comes before its value: `name{labels} `."""
    families: tuple[StoredFamily, ...]
    """The group's families these series belong to."""
    family_entries: tuple[FamilyEntry, ...]


def value_slots(
    group: Group, series: Sequence[tuple[str, int]], index: SeriesIndex
) -> ValueSlots | None:
    """The slots of `series` (each a family's name and the series' position in it, in the
    order it was pushed) of `group`; None if one is not a single line of text, or is kept
    exactly (`-0`: see the module's text)."""
    entries: list[FamilyEntry] = []
    slots: list[int] = []
    prefix_lengths: list[int] = []
    families: dict[str, StoredFamily] = {}
    for name, position in series:
        family = group.families.get(name)
        if family is None or family.type not in _ONE_SERIES_PER_LINE or family.exact is not None:
            return None
        if position >= len(family.slots):
            return None
        families[name] = family
        entry = index.families[name]
        slot = family.slots[position]
        entries.append(entry)
        slots.append(slot)
        prefix_lengths.append(entry.blocks[slot].rindex(" ") + 1)
    return ValueSlots(
        group,
        group.version,
        tuple(entries),
        array("I", slots),
        array("I", prefix_lengths),
        tuple(families.values()),
        tuple([index.families[name] for name in families]),
    )


def group_of(slots: ValueSlots, groups: Mapping[GroupingKey, Group]) -> Group | None:
    """The group `slots` were found in, if its families are unchanged since."""
    group = groups.get(slots.group.key)
    if group is not slots.group or group.version != slots.version:
        return None
    return group
