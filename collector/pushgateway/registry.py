"""GroupRegistry: the Pushgateway's metric store, in memory, with incremental consistency checks.

The one class the HTTP handlers call. It is pure: no I/O, no clock (`now` is passed in), no
locking (call it from one task, as the Pushgateway applies writes from one loop). Every method
leaves the registry consistent: a refused push changes nothing but the group's failure time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from collector.pushgateway.consistency import (
    PUSH_FAILURE_TIME,
    PUSH_FAILURE_TIME_HELP,
    PUSH_TIME,
    PUSH_TIME_HELP,
    TIMESTAMP_ERROR,
    TIMESTAMP_FAMILIES,
    PreparedFamily,
    PushCheck,
    Reserved,
    has_timestamps,
    timestamp_family,
)
from collector.pushgateway.delimited_protobuf import parse_delimited
from collector.pushgateway.errors import InconsistentPushError, PushTooLargeError
from collector.pushgateway.expiry import ExpiryRule, matching_rule
from collector.pushgateway.exposition import without_synthetic_infinity_bucket
from collector.pushgateway.goformat import format_sample_value
from collector.pushgateway.group import Group, GroupSummary, PushResult, StoredFamily, summary_of
from collector.pushgateway.grouping_key import GroupingKey, parse_grouping_key
from collector.pushgateway.model import GAUGE, TYPE_KEYWORDS, MetricFamily
from collector.pushgateway.protobuf_encoding import delimit
from collector.pushgateway.push_body import parse_push_body
from collector.pushgateway.series_index import SeriesIndex, SortKey
from collector.pushgateway.text_parser import parse_text

SNAPSHOT_VERSION: Final = 1


class GroupRegistry:
    """All pushed groups, their merged exposition, and the indexes that check a push.

    `reserved_families` (name -> MetricType number) and `reserved_prefixes` are names the
    server exposes itself; a push using one is refused. `max_body_bytes` bounds the body
    before and after gzip, `max_series_per_group` what one group may hold: beyond either a
    push raises PushTooLargeError (413) and changes nothing.
    """

    def __init__(
        self,
        *,
        reserved_families: Mapping[str, int] | None = None,
        reserved_prefixes: Sequence[str] = ("batchgate_",),
        max_body_bytes: int = 16 << 20,
        max_series_per_group: int = 100_000,
    ) -> None:
        self._reserved = Reserved(dict(reserved_families or {}), tuple(reserved_prefixes))
        self.max_body_bytes = max_body_bytes
        self.max_series_per_group = max_series_per_group
        self._groups: dict[GroupingKey, Group] = {}
        self._index = SeriesIndex()

    # Writes.

    def push(
        self,
        method: str,
        path: str,
        body: bytes,
        content_type: str | None,
        gzipped: bool,
        now: float,
    ) -> PushResult:
        """Apply a PUT (replace the group) or POST (replace same-name families) push.

        `path` is the raw (percent-encoded) path after `/metrics/`; `gzipped` is whether the
        request said `Content-Encoding: gzip` (the Pushgateway 1.5 matches it exactly). Raises
        GroupingKeyError, BodyParseError, PushTooLargeError (nothing changed) or
        InconsistentPushError (only the group's failure time changed; see its attributes).
        """
        if method not in ("PUT", "POST"):
            raise ValueError(f"push method must be PUT or POST, not {method}")
        key = parse_grouping_key(path)
        families = self.parse_body(body, content_type, gzipped)
        return self.apply(key, families, replace=method == "PUT", now=now)

    def parse_body(
        self, body: bytes, content_type: str | None, gzipped: bool
    ) -> dict[str, MetricFamily]:
        """The families in a push body (text, or delimited protobuf when the type says so)."""
        return parse_push_body(body, content_type, gzipped, self.max_body_bytes)

    def apply(
        self,
        key: GroupingKey,
        families: Mapping[str, MetricFamily],
        *,
        replace: bool,
        now: float,
    ) -> PushResult:
        """Check and store already parsed families under `key` (see `push`)."""
        group = self._groups.get(key)
        if has_timestamps(families.values()):
            raise self._refuse(key, group, [TIMESTAMP_ERROR], now)
        pushed = [family for family in families.values() if family.name not in TIMESTAMP_FAMILIES]
        self._check_size(group, pushed, replace)
        if group is None:
            removed: set[str] = set()
        elif replace:
            removed = set(group.families)
        else:
            removed = {family.name for family in pushed if family.name in group.families}
        check = PushCheck(self._index, self._reserved, key, removed)
        for family in pushed:
            check.add_family(family)
        if group is None:
            check.add_timestamp_series(now)
        if check.errors:
            raise self._refuse(key, group, check.errors, now)
        created = group is None
        if group is None:
            group = self._create_group(key, now, push_time=now, failure_time=0.0)
        else:
            group.push_time = now
            self._set_timestamp_block(group, PUSH_TIME, now)
        for name in removed.difference(family.name for family in check.prepared):
            self._remove_family(group, name)
        for prepared in check.prepared:
            self._store_family(group, prepared, now)
        self._index.changed()
        return PushResult(key, created, group.series)

    def delete(self, path: str) -> tuple[GroupingKey, bool]:
        """DELETE: remove exactly the group named by `path`; (its key, whether it existed)."""
        key = parse_grouping_key(path)
        return key, self.remove_group(key)

    def remove_group(self, key: GroupingKey) -> bool:
        group = self._groups.pop(key, None)
        if group is None:
            return False
        for name in list(group.families):
            self._remove_family(group, name)
        for name in TIMESTAMP_FAMILIES:
            entry = self._index.families[name]
            entry.remove(group.label_key)
            entry.groups -= 1
            entry.drop_help(entry.help)
            self._index.discard_if_unused(entry)
        self._index.changed()
        return True

    def wipe(self) -> int:
        """Remove every group; how many there were."""
        count = len(self._groups)
        self._groups.clear()
        self._index.clear()
        return count

    def expire(self, now: float, rules: Sequence[ExpiryRule]) -> list[GroupSummary]:
        """Remove the groups whose job's first matching rule says they are too old.

        A group's age runs from its last push, successful or not. Returns what was removed.
        """
        expired = []
        for group in list(self._groups.values()):
            rule = matching_rule(rules, dict(group.key)["job"])
            if rule is None:
                continue
            last = max(group.push_time, group.failure_time, group.created)
            if now - last > rule.max_age:
                expired.append(summary_of(group))
                self.remove_group(group.key)
        return expired

    # Reads.

    def render_text(self) -> str:
        """Every group's series, merged per family, exactly as the Pushgateway exposes them."""
        return self._index.render()

    def groups(self) -> Iterator[GroupSummary]:
        return (summary_of(group) for group in self._groups.values())

    def get(self, key: GroupingKey) -> GroupSummary | None:
        group = self._groups.get(key)
        return summary_of(group) if group is not None else None

    def __len__(self) -> int:
        return len(self._groups)

    def group_families(self, key: GroupingKey) -> list[tuple[MetricFamily, float]]:
        """A group's families as stored (sanitized), each with the time it was pushed."""
        group = self._groups[key]
        stored_families = group.families.values()
        # One parse for the whole group's text: families do not mix (suffixes cannot clash).
        text = "".join(self._family_text(s) for s in stored_families if s.exact is None)
        parsed = parse_text(text.encode("utf-8"))
        result = [(self._family(stored, parsed), stored.pushed_at) for stored in stored_families]
        push_stamp = group.push_time or group.created
        failure_stamp = group.failure_time or group.created
        for name, value, stamp in (
            (PUSH_TIME, group.push_time, push_stamp),
            (PUSH_FAILURE_TIME, group.failure_time, failure_stamp),
        ):
            result.append((timestamp_family(name, key, value), stamp))
        return result

    # Persistence.

    def snapshot_group(self, key: GroupingKey) -> str:
        """A group's compact serialised form: a JSON header line, then the families' text.

        Cheap (string joins): meant to be written after every push. `restore_group` reads it.
        """
        group = self._groups[key]
        families = []
        texts = []
        for stored in group.families.values():
            families.append(
                {
                    "name": stored.name,
                    "type": stored.type,
                    "help": stored.help,
                    "pushed_at": stored.pushed_at,
                    "exact": None
                    if stored.exact is None
                    else base64.b64encode(stored.exact).decode(),
                }
            )
            if stored.exact is None:
                texts.append(self._family_text(stored))
        header = {
            "v": SNAPSHOT_VERSION,
            "labels": [list(pair) for pair in key],
            "created": group.created,
            "push_time": group.push_time,
            "failure_time": group.failure_time,
            "families": families,
        }
        return json.dumps(header, ensure_ascii=False, separators=(",", ":")) + "\n" + "".join(texts)

    def restore_group(self, snapshot: str) -> GroupingKey:
        """Rebuild a group (and the indexes) from `snapshot_group`'s output, replacing it.

        Raises InconsistentPushError if it clashes with what is stored now (nothing changed),
        ValueError if `snapshot` is not a snapshot.
        """
        line, _, text = snapshot.partition("\n")
        header = json.loads(line)
        if not isinstance(header, dict) or header.get("v") != SNAPSHOT_VERSION:
            raise ValueError("not a group snapshot of a known version")
        key: GroupingKey = tuple((str(name), str(value)) for name, value in header["labels"])
        parsed = parse_text(text.encode("utf-8"))
        families = []
        pushed_at = {}
        for described in header["families"]:
            name = described["name"]
            if described["exact"] is not None:
                exact = base64.b64decode(described["exact"])
                family = next(iter(parse_delimited(delimit(exact)).values()))
            else:
                family = parsed.get(name) or MetricFamily(name, None, described["type"])
                family.help = described["help"]
            families.append(family)
            pushed_at[name] = described["pushed_at"]
        previous = self._groups.get(key)
        check = PushCheck(
            self._index, self._reserved, key, set(previous.families) if previous else set()
        )
        for family in families:
            check.add_family(family)
        if previous is None:
            check.add_timestamp_series(header["push_time"])
        if check.errors:
            raise InconsistentPushError(check.errors, key)
        self.remove_group(key)
        group = self._create_group(
            key, header["created"], header["push_time"], header["failure_time"]
        )
        for prepared in check.prepared:
            self._store_family(group, prepared, pushed_at[prepared.name])
        self._index.changed()
        return key

    def _family(self, stored: StoredFamily, parsed: dict[str, MetricFamily]) -> MetricFamily:
        if stored.exact is not None:
            return next(iter(parse_delimited(delimit(stored.exact)).values()))
        family = parsed.get(stored.name) or MetricFamily(stored.name, None, stored.type)
        family.help = stored.help
        return family

    def _family_text(self, stored: StoredFamily) -> str:
        """The family's series as pushed: TYPE line, then each series without added lines."""
        entry = self._index.families[stored.name]
        parts = [f"# TYPE {stored.name} {TYPE_KEYWORDS[stored.type]}\n"]
        for position, key in enumerate(stored.keys):
            block = entry.blocks[entry.find(key)]
            if position in stored.synthetic:
                block = without_synthetic_infinity_bucket(stored.name, block)
            parts.append(block)
        return "".join(parts)

    # Internals.

    def _check_size(self, group: Group | None, pushed: list[MetricFamily], replace: bool) -> None:
        series = sum(len(family.metrics) for family in pushed)
        if group is not None and not replace:
            names = {family.name for family in pushed}
            series += sum(len(f.keys) for name, f in group.families.items() if name not in names)
        if series > self.max_series_per_group:
            raise PushTooLargeError(
                f"group would hold {series} series, more than {self.max_series_per_group}"
            )

    def _refuse(
        self, key: GroupingKey, group: Group | None, errors: list[str], now: float
    ) -> InconsistentPushError:
        """Set the failure time (creating the group as the Pushgateway does, when safe)."""
        if group is not None:
            group.failure_time = now
            self._set_timestamp_block(group, PUSH_FAILURE_TIME, now)
        elif self._can_hold_new_group(key, now):
            self._create_group(key, now, push_time=0.0, failure_time=now)
        else:
            return InconsistentPushError(errors, key, group_changed=False)
        self._index.changed()
        return InconsistentPushError(errors, key, group_changed=True)

    def _can_hold_new_group(self, key: GroupingKey, now: float) -> bool:
        """False where the Pushgateway would store a group that breaks every later push."""
        check = PushCheck(self._index, self._reserved, key, set())
        check.add_timestamp_series(now)
        return not check.errors

    def _create_group(
        self, key: GroupingKey, created: float, push_time: float, failure_time: float
    ) -> Group:
        group = Group(key, created)
        group.push_time = push_time
        group.failure_time = failure_time
        self._groups[key] = group
        labels_text = group.labels_text
        for name, help_text, value in (
            (PUSH_TIME, PUSH_TIME_HELP, push_time),
            (PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, failure_time),
        ):
            entry = self._index.entry(name, GAUGE)
            entry.groups += 1
            entry.add_help(help_text)
            entry.insert(group.label_key, _timestamp_block(name, labels_text, value), key)
        return group

    def _set_timestamp_block(self, group: Group, name: str, value: float) -> None:
        self._index.families[name].set_block(
            group.label_key, _timestamp_block(name, group.labels_text, value)
        )

    def _remove_family(self, group: Group, name: str) -> None:
        stored = group.families.pop(name)
        entry = self._index.families[name]
        for key in stored.keys:
            entry.remove(key)
        entry.groups -= 1
        entry.drop_help(stored.help)
        self._index.discard_if_unused(entry)

    def _store_family(self, group: Group, prepared: PreparedFamily, now: float) -> None:
        entry = self._index.entry(prepared.name, prepared.type)
        old = group.families.get(prepared.name)
        keys = tuple(prepared.keys)
        if old is not None and old.keys == keys and entry.type == prepared.type:
            # The common case: a job pushing the same series again. Only the text changes.
            if old.help != prepared.help:
                entry.drop_help(old.help)
                entry.add_help(prepared.help)
            elif entry.help != prepared.help:
                entry.help = prepared.help
                entry.cached = None
            for key, block in zip(keys, prepared.blocks, strict=True):
                entry.set_block(key, block)
            old.help = prepared.help
            old.pushed_at = now
            old.synthetic = prepared.synthetic
            old.exact = prepared.exact
            return
        if old is None:
            entry.groups += 1
        else:
            if entry.groups == 1 and entry.type != prepared.type:
                entry.type = prepared.type  # This group was the only user: its type may change.
                entry.cached = None
            entry.drop_help(old.help)
            new_keys = set(prepared.keys)
            for key in old.keys:
                if key not in new_keys:
                    entry.remove(key)
        entry.add_help(prepared.help)
        old_keys: set[SortKey] | tuple[()] = set(old.keys) if old is not None else ()
        for key, block in zip(prepared.keys, prepared.blocks, strict=True):
            if key in old_keys:
                entry.set_block(key, block)
            else:
                entry.insert(key, block, group.key)
        group.families[prepared.name] = StoredFamily(
            prepared.name,
            prepared.type,
            prepared.help,
            now,
            keys,
            prepared.synthetic,
            prepared.exact,
        )


def _timestamp_block(name: str, labels_text: str, value: float) -> str:
    return f"{name}{{{labels_text}}} {format_sample_value(value)}\n"
