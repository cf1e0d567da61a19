"""GroupRegistry: the Pushgateway's metric store, in memory, with incremental consistency checks.

The one class the HTTP handlers call. It is pure: no I/O, no clock (`now` is passed in), no
locking (call it from one task, as the Pushgateway applies writes from one loop). Every method
leaves the registry consistent: a refused push changes nothing but the group's failure time.
The pushes that merge into a group (aggregating POSTs, OTLP exports) are in `merging.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from batchgate.collector.pushgateway.aggregation import AggregateRule
from batchgate.collector.pushgateway.consistency import (
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
from batchgate.collector.pushgateway.delimited_protobuf import parse_delimited
from batchgate.collector.pushgateway.errors import InconsistentPushError, PushTooLargeError
from batchgate.collector.pushgateway.expiry import ExpiryRule, matching_rule
from batchgate.collector.pushgateway.goformat import format_sample_value
from batchgate.collector.pushgateway.group import (
    Group,
    GroupSummary,
    PushResult,
    StoredFamily,
    summary_of,
)
from batchgate.collector.pushgateway.grouping_key import GroupingKey, parse_grouping_key
from batchgate.collector.pushgateway.merging import MergingPushes
from batchgate.collector.pushgateway.model import GAUGE, MetricFamily
from batchgate.collector.pushgateway.protobuf_encoding import delimit
from batchgate.collector.pushgateway.push_body import is_protobuf, unpacked_body
from batchgate.collector.pushgateway.same_shape import BodyShape, body_shape
from batchgate.collector.pushgateway.series_index import SeriesIndex, SortKey
from batchgate.collector.pushgateway.snapshot import decode_snapshot, encode_snapshot, family_text
from batchgate.collector.pushgateway.text_parser import TextBody, parse_text, read_text
from batchgate.rules.facts import unheard_after


class GroupRegistry(MergingPushes):
    """All pushed groups, their merged exposition, and the indexes that check a push.

    `reserved_families` (name -> MetricType number) and `reserved_prefixes` are names the
    server exposes itself; a push using one is refused. `max_body_bytes` bounds the body
    before and after gzip, `max_series_per_group` what one group may hold: beyond either a
    push raises PushTooLargeError (413) and changes nothing. A POST to a group whose job
    matches one of `aggregate` adds to what the group holds (`aggregation`).
    """

    def __init__(
        self,
        *,
        reserved_families: Mapping[str, int] | None = None,
        reserved_prefixes: Sequence[str] = ("batchgate_",),
        max_body_bytes: int = 16 << 20,
        max_series_per_group: int = 100_000,
        aggregate: Sequence[AggregateRule] = (),
    ) -> None:
        self.aggregate = tuple(aggregate)
        """Jobs whose groups add up what a POST pushes (see `aggregation`)."""
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
        replace = method == "PUT"
        data, stream_error = unpacked_body(body, gzipped, self.max_body_bytes)
        rule = self.aggregating(key) if not replace else None
        if rule is not None:
            return self._push_adding(key, data, stream_error, is_protobuf(content_type), rule, now)
        if is_protobuf(content_type):
            return self.apply(key, parse_delimited(data, stream_error), replace=replace, now=now)
        if stream_error is None:
            # The usual push repeats the group's last body with new values: the fast path
            # (see `same_shape`) stores them without parsing or checking; anything else, or
            # any doubt, goes on to the full path.
            group = self._groups.get(key)
            if group is not None and group.shape is not None:
                result = self._push_same_shape(group, group.shape, data, replace, now)
                if result is not None:
                    return result
        text = read_text(data, stream_error)
        group = self._groups.get(key)
        held = dict(group.families) if group is not None else {}
        result = self.apply(key, text.families, replace=replace, now=now)
        if stream_error is None:
            self._remember_shape(key, text, data, held, result)
        return result

    def _remember_shape(
        self,
        key: GroupingKey,
        text: TextBody,
        data: bytes,
        held: Mapping[str, StoredFamily],
        result: PushResult,
    ) -> None:
        """Keep the body's shape for the next push of the same text (`same_shape`). It pays
        off where the group's series are settled: when the push created the group, or kept
        each family's series (its StoredFamily is the same object then); not for a group
        whose label values change with every push. `held`: the group's families before."""
        group = self._groups[key]
        pushed = [group.families[name] for name in text.families if name in group.families]
        if result.created or all(held.get(family.name) is family for family in pushed):
            group.shape = body_shape(text, data, pushed, self._index)

    def _push_same_shape(
        self, group: Group, shape: BodyShape, data: bytes, replace: bool, now: float
    ) -> PushResult | None:
        """The group's last text body with new values: store them, skipping the checks
        (`same_shape` says why that is safe). None (nothing changed) for any other body."""
        if replace and len(shape.families) != len(group.families):
            return None  # The PUT would remove the group's other families: the full path.
        series = group.series
        if series > self.max_series_per_group:
            return None  # Only if the limit was lowered since: the full path refuses it.
        blocks = shape.new_blocks(data)
        if blocks is None:
            return None
        shape.store(blocks)
        for family, entry in zip(shape.families, shape.family_entries, strict=True):
            family.pushed_at = now
            entry.show_help(family.help)  # Another group may have shown its HELP meanwhile.
        self._set_push_time(group, now)
        self._index.changed()
        return PushResult(group.key, False, series)

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
        removed, check = self._check(key, group, pushed, replace, now)
        if check.errors:
            raise self._refuse(key, group, check.errors, now)
        return self._store(key, group, removed, check, now)

    def _check(
        self,
        key: GroupingKey,
        group: Group | None,
        pushed: list[MetricFamily],
        replace: bool,
        now: float,
    ) -> tuple[set[str], PushCheck]:
        """The families the push removes, and the push's checks (PushTooLargeError first)."""
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
        return removed, check

    def _store(
        self,
        key: GroupingKey,
        group: Group | None,
        removed: set[str],
        check: PushCheck,
        now: float,
    ) -> PushResult:
        """Store what `check` prepared (it found no errors)."""
        created = group is None
        if group is None:
            group = self._create_group(key, now, push_time=now, failure_time=0.0)
        else:
            self._set_push_time(group, now)
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

    def expire(
        self, now: float, rules: Sequence[ExpiryRule], deaf: tuple[float, float] = (0.0, 0.0)
    ) -> list[GroupSummary]:
        """Remove the groups whose job's first matching rule says they are too old.

        A group's age runs from its last push, successful or not, and leaves out `deaf`, the
        time the server was down (`batchgate.rules.facts.unheard_after`). Returns what was removed.
        """
        expired = []
        for group in list(self._groups.values()):
            rule = matching_rule(rules, dict(group.key)["job"])
            if rule is None:
                continue
            last = max(group.push_time, group.failure_time, group.created)
            if now - last - unheard_after(deaf, last) > rule.max_age:
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

    def __contains__(self, key: GroupingKey) -> bool:
        return key in self._groups

    def group_families(self, key: GroupingKey) -> list[tuple[MetricFamily, float]]:
        """A group's families as stored (sanitized), each with the time it was pushed."""
        group = self._groups[key]
        stored_families = group.families.values()
        # One parse for the whole group's text: families do not mix (suffixes cannot clash).
        families = self._index.families
        text = "".join(
            family_text(stored, families[stored.name])
            for stored in stored_families
            if stored.exact is None
        )
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
        """A group's compact serialised form (`snapshot` describes it).

        Cheap (string joins): meant to be written after every push. `restore_group` reads it.
        """
        return encode_snapshot(self._groups[key], self._index)

    def restore_group(self, snapshot: str) -> GroupingKey:
        """Rebuild a group (and the indexes) from `snapshot_group`'s output, replacing it.

        Raises InconsistentPushError if it clashes with what is stored now (nothing changed),
        ValueError if `snapshot` is not a snapshot.
        """
        restored = decode_snapshot(snapshot)
        key = restored.key
        previous = self._groups.get(key)
        check = PushCheck(
            self._index, self._reserved, key, set(previous.families) if previous else set()
        )
        for family in restored.families:
            check.add_family(family)
        if previous is None:
            check.add_timestamp_series(restored.push_time)
        if check.errors:
            raise InconsistentPushError(check.errors, key)
        self.remove_group(key)
        group = self._create_group(key, restored.created, restored.push_time, restored.failure_time)
        for prepared in check.prepared:
            self._store_family(group, prepared, restored.pushed_at[prepared.name])
        self._index.changed()
        return key

    def _family(self, stored: StoredFamily, parsed: dict[str, MetricFamily]) -> MetricFamily:
        if stored.exact is not None:
            return next(iter(parse_delimited(delimit(stored.exact)).values()))
        family = parsed.get(stored.name) or MetricFamily(stored.name, None, stored.type)
        family.help = stored.help
        return family

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
            self._set_failure_time(group, now)
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
        stamps = []
        for name, help_text, value in (
            (PUSH_TIME, PUSH_TIME_HELP, push_time),
            (PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, failure_time),
        ):
            entry = self._index.entry(name, GAUGE)
            entry.groups += 1
            entry.add_help(help_text)
            block = _timestamp_block(name, labels_text, value)
            stamps.append(entry.insert(group.label_key, block, key))
        group.push_time_slot, group.failure_time_slot = stamps
        return group

    def _set_push_time(self, group: Group, now: float) -> None:
        group.push_time = now
        block = _timestamp_block(PUSH_TIME, group.labels_text, now)
        self._index.families[PUSH_TIME].set_block(group.push_time_slot, block)

    def _set_failure_time(self, group: Group, now: float) -> None:
        group.failure_time = now
        block = _timestamp_block(PUSH_FAILURE_TIME, group.labels_text, now)
        self._index.families[PUSH_FAILURE_TIME].set_block(group.failure_time_slot, block)

    def _families_changed(self, group: Group) -> None:
        """Forget what was derived from the group's families (they are changing)."""
        group.shape = None
        group.added_up = None
        group.snapshot_header = None
        group.series_count = None
        group.version += 1

    def _remove_family(self, group: Group, name: str) -> None:
        self._families_changed(group)
        stored = group.families.pop(name)
        entry = self._index.families[name]
        for key in stored.keys:
            entry.remove(key)
        entry.groups -= 1
        entry.drop_help(stored.help)
        self._index.discard_if_unused(entry)

    def _store_family(self, group: Group, prepared: PreparedFamily, now: float) -> None:
        self._families_changed(group)
        entry = self._index.entry(prepared.name, prepared.type)
        old = group.families.get(prepared.name)
        keys = tuple(prepared.keys)
        if old is not None and old.keys == keys and entry.type == prepared.type:
            # The common case: a job pushing the same series again. Only the text changes.
            if old.help != prepared.help:
                entry.drop_help(old.help)
                entry.add_help(prepared.help)
            else:
                entry.show_help(prepared.help)
            for slot, block in zip(old.slots, prepared.blocks, strict=True):
                entry.set_block(slot, block)
            old.help = prepared.help
            old.pushed_at = now
            old.synthetic = prepared.synthetic
            old.exact = prepared.exact
            return
        kept: dict[SortKey, int] = {}
        if old is None:
            entry.groups += 1
        else:
            if entry.groups == 1 and entry.type != prepared.type:
                entry.type = prepared.type  # This group was the only user: its type may change.
                entry.cached = None
            entry.drop_help(old.help)
            new_keys = set(prepared.keys)
            for key, old_slot in zip(old.keys, old.slots, strict=True):
                if key in new_keys:
                    kept[key] = old_slot
                else:
                    entry.remove(key)
        entry.add_help(prepared.help)
        slots = []
        for key, block in zip(prepared.keys, prepared.blocks, strict=True):
            kept_slot = kept.get(key)
            if kept_slot is None:
                slots.append(entry.insert(key, block, group.key))
            else:
                entry.set_block(kept_slot, block)
                slots.append(kept_slot)
        group.families[prepared.name] = StoredFamily(
            prepared.name,
            prepared.type,
            prepared.help,
            now,
            keys,
            tuple(slots),
            prepared.synthetic,
            prepared.exact,
        )


def _timestamp_block(name: str, labels_text: str, value: float) -> str:
    return f"{name}{{{labels_text}}} {format_sample_value(value)}\n"
