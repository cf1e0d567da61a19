"""Inhibition, as Alertmanager does it: while a *source* alert fires, the *target* alerts with
the same values of the `equal` labels are held back (not notified, shown as inhibited).

    inhibit_rules:
      - source_matchers: ['alertname="DatabaseDown"']
        target_matchers: ['alertname=~"JobFailed|JobLost"']
        equal: [env]

An alert that matches both sides of a rule is not inhibited by alerts that match both sides
too (Alertmanager's rule, so that `severity=critical` inhibiting `severity=warning` does not
make two alerts hold each other back).

`Inhibitions` keeps, per rule, the firing sources and the active targets by their `equal`
values, so that a change of one alert costs the rules it matches, not every alert: when a
source comes or goes, only the targets with its values are looked at again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import yaml

from batchgate.rules.matcher_strings import Matcher, parse_matcher
from batchgate.rules.yaml_reader import Reader

EqualKey = tuple[str, ...]
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """One entry of `inhibit_rules:`."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    file: str = "<string>"
    line: int = 0

    def key(self, labels: Mapping[str, str]) -> EqualKey:
        return tuple(labels.get(name, "") for name in self.equal)


def _all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


@dataclass(slots=True)
class _Membership:
    """Where one alert is filed: per rule index, (its key, source?, target?)."""

    entries: list[tuple[int, EqualKey, bool, bool, bool]]
    """(rule index, key, a firing source, a target, matches the source side)."""


class Inhibitions:
    """Which active alerts inhibit which, kept up to date one alert change at a time."""

    def __init__(self, rules: Iterable[InhibitRule] = ()) -> None:
        self.rules = tuple(rules)
        # Per rule: firing sources by key (id -> whether it also matches the target side),
        # and active targets by key.
        self._sources: list[dict[EqualKey, dict[str, bool]]] = [{} for _ in self.rules]
        self._targets: list[dict[EqualKey, set[str]]] = [{} for _ in self.rules]
        self._filed: dict[str, _Membership] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def update(self, alert_id: str, labels: Mapping[str, str], firing: bool) -> set[str]:
        """File an active alert (again) after its labels or state changed; returns the ids of
        the other alerts whose inhibition may have changed with it."""
        entries: list[tuple[int, EqualKey, bool, bool, bool]] = []
        for index, rule in enumerate(self.rules):
            source_side = _all(rule.source, labels)
            is_target = _all(rule.target, labels)
            if source_side or is_target:
                key = rule.key(labels)
                entries.append((index, key, firing and source_side, is_target, source_side))
        filed = self._filed.get(alert_id)
        if filed is not None and filed.entries == entries:
            return set()
        affected = self.remove(alert_id)
        for index, key, is_source, is_target, _ in entries:
            if is_source:
                self._sources[index].setdefault(key, {})[alert_id] = is_target
                affected.update(self._targets[index].get(key, ()))
            if is_target:
                self._targets[index].setdefault(key, set()).add(alert_id)
        if entries:
            self._filed[alert_id] = _Membership(entries)
        affected.discard(alert_id)
        return affected

    def remove(self, alert_id: str) -> set[str]:
        """Forget an alert (resolved, dropped); returns the alerts it may have inhibited."""
        filed = self._filed.pop(alert_id, None)
        affected: set[str] = set()
        for index, key, is_source, is_target, _ in filed.entries if filed else ():
            if is_source:
                sources = self._sources[index][key]
                del sources[alert_id]
                if not sources:
                    del self._sources[index][key]
                affected.update(self._targets[index].get(key, ()))
            if is_target:
                targets = self._targets[index][key]
                targets.discard(alert_id)
                if not targets:
                    del self._targets[index][key]
        affected.discard(alert_id)
        return affected

    def inhibited_by(self, alert_id: str) -> tuple[str, ...]:
        """Ids of the firing alerts that inhibit this one now (sorted), or ()."""
        filed = self._filed.get(alert_id)
        if filed is None:
            return ()
        found: set[str] = set()
        for index, key, _, is_target, source_side in filed.entries:
            if not is_target:
                continue
            for source_id, two_sided in self._sources[index].get(key, {}).items():
                if source_id != alert_id and not (source_side and two_sided):
                    found.add(source_id)
        return tuple(sorted(found))


_INHIBIT_KEYS: Final = ("source_matchers", "target_matchers", "equal")


def parse_inhibit_rules(reader: Reader, node: yaml.Node) -> list[InhibitRule]:
    """A rules file's `inhibit_rules:` list, in Alertmanager's words; every error is reported
    to `reader` with its line, and only valid entries are returned."""
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return []
    found: list[InhibitRule] = []
    for item in reader.sequence(node, "inhibit_rules") or ():
        fields = reader.mapping(item, "inhibit rule")
        if fields is None:
            continue
        fields.what = f"inhibit rule at line {fields.line}"
        errors_before = len(reader.errors)
        sides: list[tuple[Matcher, ...]] = []
        for side in ("source_matchers", "target_matchers"):
            side_node = fields.require(side)
            sides.append(() if side_node is None else _matchers(reader, side_node, side))
        equal_node = fields.take("equal")
        equal = () if equal_node is None else tuple(reader.strings(equal_node, "equal") or ())
        for name in equal:
            if not _LABEL_NAME.fullmatch(name):
                reader.error(equal_node, f"equal: {name!r} is not a valid label name")
        fields.reject_unknown(_INHIBIT_KEYS)
        if len(reader.errors) == errors_before:
            found.append(InhibitRule(sides[0], sides[1], equal, reader.file, fields.line))
    return found


def _matchers(reader: Reader, node: yaml.Node, what: str) -> tuple[Matcher, ...]:
    texts = reader.strings(node, what)
    if texts is None:
        return ()
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    matchers: list[Matcher] = []
    for index, (text, item) in enumerate(zip(texts, items, strict=True)):
        try:
            matchers.append(parse_matcher(text))
        except ValueError as exc:
            reader.error(item, f"{what}[{index}]: {exc}")
    return tuple(matchers)
