"""A group's persisted form, written after every push, and reading it back.

Version 2 is three parts, each starting on a new line:

1. a JSON header: the grouping labels, when the group was created, and per family its name,
   type, HELP and (rarely) its exact protobuf form. It changes only when the group's set of
   families does, so the group keeps it (`Group.snapshot_header`) and a push that only
   changes values does not encode it again;
2. what changes with every push: the push time, the failure time and each family's push
   time (in header order), as Python float reprs separated by spaces. The families' times
   are left out when they all equal the push time (usual: each push is of every family);
3. the families' exposition text as pushed (TYPE line and series; HELP is in the header),
   which the restore parses like a push.

Version 1 (one JSON header holding the times as well, then the text) is still read.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from typing import Any, Final

from batchgate.collector.pushgateway.delimited_protobuf import parse_delimited
from batchgate.collector.pushgateway.exposition import without_synthetic_infinity_bucket
from batchgate.collector.pushgateway.group import Group, StoredFamily
from batchgate.collector.pushgateway.grouping_key import GroupingKey
from batchgate.collector.pushgateway.model import TYPE_KEYWORDS, MetricFamily
from batchgate.collector.pushgateway.protobuf_encoding import delimit
from batchgate.collector.pushgateway.series_index import FamilyEntry, SeriesIndex
from batchgate.collector.pushgateway.text_parser import parse_text

VERSION: Final = 2


@dataclass(slots=True)
class RestoredGroup:
    """A decoded snapshot: the group's families (to check and store again) and its times."""

    key: GroupingKey
    created: float
    push_time: float
    failure_time: float
    families: list[MetricFamily]
    pushed_at: dict[str, float]


def family_text(stored: StoredFamily, entry: FamilyEntry) -> str:
    """The family's series as pushed (`entry` holds their text): TYPE line, then each series
    without added lines."""
    blocks = entry.blocks
    slots = stored.slots
    if not stored.synthetic:
        # The usual family, written after every push: as few steps as can be.
        if len(slots) == 1:
            return _type_line(stored.name, stored.type) + blocks[slots[0]]
        return _type_line(stored.name, stored.type) + "".join([blocks[slot] for slot in slots])
    parts = [_type_line(stored.name, stored.type)]
    for position, slot in enumerate(slots):
        block = blocks[slot]
        if position in stored.synthetic:
            block = without_synthetic_infinity_bucket(stored.name, block)
        parts.append(block)
    return "".join(parts)


@functools.lru_cache(maxsize=1024)
def _type_line(name: str, family_type: int) -> str:
    return f"# TYPE {name} {TYPE_KEYWORDS[family_type]}\n"


def snapshot_header(group: Group) -> str:
    """Part 1 of the group's snapshot (see the module's docstring)."""
    families = [
        {
            "name": stored.name,
            "type": stored.type,
            "help": stored.help,
            "exact": None if stored.exact is None else base64.b64encode(stored.exact).decode(),
        }
        for stored in group.families.values()
    ]
    header = {
        "v": VERSION,
        "labels": [list(pair) for pair in group.key],
        "created": group.created,
        "families": families,
    }
    return json.dumps(header, ensure_ascii=False, separators=(",", ":"))


def encode_snapshot(group: Group, index: SeriesIndex) -> str:
    """The group's snapshot (`index` holds its series' text); string joins once the header
    is kept."""
    header = group.snapshot_header
    if header is None:
        header = group.snapshot_header = snapshot_header(group)
    families = group.families.values()
    push_time = group.push_time
    times = f"{push_time!r} {group.failure_time!r}"
    if any(stored.pushed_at != push_time for stored in families):
        times = " ".join([times, *[repr(stored.pushed_at) for stored in families]])
    entries = index.families
    texts = [
        family_text(stored, entries[stored.name]) for stored in families if stored.exact is None
    ]
    return f"{header}\n{times}\n{''.join(texts)}"


def decode_snapshot(snapshot: str) -> RestoredGroup:
    """The group `encode_snapshot` wrote (or version 1 did); ValueError if it is not one."""
    line, _, rest = snapshot.partition("\n")
    header = json.loads(line)
    version = header.get("v") if isinstance(header, dict) else None
    if version == VERSION:
        times_line, _, text = rest.partition("\n")
        times = [float(token) for token in times_line.split(" ")]
        push_time, failure_time, *family_times = times
        described = header["families"]
        if not family_times:
            family_times = [push_time] * len(described)
        if len(family_times) != len(described):
            raise ValueError("a group snapshot whose times do not match its families")
    elif version == 1:
        text = rest
        push_time, failure_time = header["push_time"], header["failure_time"]
        described = header["families"]
        family_times = [family["pushed_at"] for family in described]
    else:
        raise ValueError("not a group snapshot of a known version")
    key: GroupingKey = tuple((str(name), str(value)) for name, value in header["labels"])
    parsed = parse_text(text.encode("utf-8"))
    return RestoredGroup(
        key,
        header["created"],
        push_time,
        failure_time,
        [_family(family, parsed) for family in described],
        {family["name"]: stamp for family, stamp in zip(described, family_times, strict=True)},
    )


def _family(described: dict[str, Any], parsed: dict[str, MetricFamily]) -> MetricFamily:
    if described["exact"] is not None:
        exact = base64.b64decode(described["exact"])
        return next(iter(parse_delimited(delimit(exact)).values()))
    name = described["name"]
    family = parsed.get(name) or MetricFamily(name, None, described["type"])
    family.help = described["help"]
    return family
