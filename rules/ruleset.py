"""Rules: what one rule says, and loading rule files into a validated RuleSet.

Every error of every file is collected (file, line, reason) before anything is rejected, so one
run of `batchgate check-rules` shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Final

import yaml

from batchgate.rules.errors import ConfigError, ConfigErrors
from batchgate.rules.inhibition import InhibitRule, parse_inhibit_rules
from batchgate.rules.kinds import KINDS, Kind
from batchgate.rules.kinds.outcomes import FailureRate
from batchgate.rules.kinds.runtime import Duration
from batchgate.rules.matchers import MATCH_ALL, JobMatcher, LabelMatchers, Pattern, compile_pattern
from batchgate.rules.templates import Template, compile_template
from batchgate.rules.yaml_reader import Fields, Reader

DEFAULT_SEVERITY: Final = "warning"
RESERVED_LABELS: Final = frozenset({"alertname", "job", "severity", "run_id"})
"""Labels the engine sets on every alert; a rule cannot set them."""

_COMMON_KEYS: Final = (
    "name",
    "match",
    "kind",
    "for",
    "severity",
    "severity_tiers",
    "labels",
    "annotations",
)
_MATCH_KEYS: Final = ("job", "labels", "job_kind")
_JOB_KINDS: Final = ("batch", "pushgateway", "otlp")
_ALERT_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class SeverityTier:
    """From `after` of elapsed time on, the alert has this severity."""

    after: float
    severity: str


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One validated rule. Its `name` is the alerts' `alertname` and part of their identity."""

    name: str
    kind: Kind
    match: JobMatcher = MATCH_ALL
    hold: float = 0.0
    """`for`: how long the condition must hold before the alert fires."""
    tiers: tuple[SeverityTier, ...] = (SeverityTier(0.0, DEFAULT_SEVERITY),)
    """Severity by elapsed time, ascending `after`; a fixed `severity` is one tier at 0s."""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, Template], ...] = ()
    file: str = "<string>"
    line: int = 0

    @property
    def per_run(self) -> bool:
        return self.kind.per_run

    def severity_at(self, elapsed: float) -> str:
        """The severity after `elapsed` seconds of the problem (the first tier below the first
        threshold)."""
        chosen = self.tiers[0].severity
        for tier in self.tiers[1:]:
            if elapsed < tier.after:
                break
            chosen = tier.severity
        return chosen

    def next_tier_after(self, elapsed: float) -> float | None:
        """The elapsed time at which the severity next changes, if it ever does."""
        for tier in self.tiers[1:]:
            if elapsed < tier.after:
                return tier.after
        return None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in effect, in file order, with the files they came from."""

    rules: tuple[Rule, ...] = ()
    files: tuple[str, ...] = ()
    by_name: dict[str, Rule] = field(default_factory=dict, compare=False)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    """Every file's `inhibit_rules:`, in file order."""

    @classmethod
    def of(
        cls,
        rules: Iterable[Rule],
        files: Iterable[str] = (),
        inhibit_rules: Iterable[InhibitRule] = (),
    ) -> RuleSet:
        ordered = tuple(rules)
        return cls(
            ordered, tuple(files), {rule.name: rule for rule in ordered}, tuple(inhibit_rules)
        )

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def history_needed(self) -> int:
        """How many finished runs per job the rules that count runs look back over
        (`failure_rate` with `over_last`; `duration` with `above_p95_factor`, which also skips
        the judged run); 0 when none does. Windows by time are not counted: they see whatever
        the job keeps."""
        needed = 0
        for rule in self.rules:
            kind = rule.kind
            if isinstance(kind, FailureRate) and kind.over_last is not None:
                needed = max(needed, kind.over_last)
            elif isinstance(kind, Duration) and kind.factor is not None:
                needed = max(needed, kind.over_last + 1)
        return needed


def parse_rules(text: str, file: str = "<string>") -> tuple[list[Rule], list[ConfigError]]:
    """Parse one rules file's text: the valid rules, and every error found."""
    rules, _, errors = parse_rule_file(text, file)
    return rules, errors


def parse_rule_file(
    text: str, file: str = "<string>"
) -> tuple[list[Rule], list[InhibitRule], list[ConfigError]]:
    """Parse one rules file's text: its valid rules and inhibit rules, and every error found."""
    reader = Reader(file)
    rules: list[Rule] = []
    inhibit_rules: list[InhibitRule] = []
    root = reader.compose(text)
    if root is None:
        return rules, inhibit_rules, reader.errors
    if isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null"):
        return rules, inhibit_rules, reader.errors  # an empty file holds no rules
    top = reader.mapping(root, "rules file")
    if top is None:
        return rules, inhibit_rules, reader.errors
    items = top.take("rules")
    inhibit_node = top.take("inhibit_rules")
    top.reject_unknown(("rules", "inhibit_rules"))
    if inhibit_node is not None:
        inhibit_rules = parse_inhibit_rules(reader, inhibit_node)
    if items is None:
        if "rules" not in top and inhibit_node is None:
            reader.error(root, "rules file: missing key 'rules' (a list of rules)")
        return rules, inhibit_rules, reader.errors
    if isinstance(items, yaml.ScalarNode) and items.tag.endswith(":null"):
        return rules, inhibit_rules, reader.errors
    nodes = reader.sequence(items, "rules")
    seen: dict[str, int] = {}
    for node in nodes or ():
        rule = _parse_rule(reader, node)
        # A rule with other errors still takes its name: a duplicate of it is reported too.
        name = rule.name if rule is not None else _name_of(node)
        line = node.start_mark.line + 1
        if name is not None and name in seen:
            reader.error_at(line, f"rule {name!r}: duplicate name (first at line {seen[name]})")
            continue
        if name is not None:
            seen[name] = line
        if rule is not None:
            rules.append(rule)
    return rules, inhibit_rules, reader.errors


def _name_of(node: yaml.Node) -> str | None:
    """The `name` a rule's node gives, read as it is written, whether or not the rule is valid."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if key.value == "name" and isinstance(value, yaml.ScalarNode):
            return str(value.value)
    return None


def _parse_rule(reader: Reader, node: yaml.Node) -> Rule | None:
    fields = reader.mapping(node, "rule")
    if fields is None:
        return None
    name_node = fields.require("name")
    name = None if name_node is None else reader.string(name_node, "name")
    if name is not None and not _ALERT_NAME.fullmatch(name):
        reader.error(
            name_node, f"name: {name!r} is not a valid alert name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        )
        name = None
    fields.what = f"rule {name!r}" if name else f"rule at line {fields.line}"
    errors_before = len(reader.errors)

    kind_node = fields.require("kind")
    kind: Kind | None = None
    kind_keys: tuple[str, ...] = ()
    if kind_node is not None:
        kind_name = reader.string(kind_node, "kind")
        spec = KINDS.get(kind_name) if kind_name is not None else None
        if kind_name is not None and spec is None:
            reader.error(
                kind_node, f"kind: unknown kind {kind_name!r} (one of: {', '.join(KINDS)})"
            )
        if spec is not None:
            kind_keys = spec.keys
            fields.what = f"rule {name!r} ({spec.name})" if name else fields.what
            kind = spec.parse(fields)

    match_node = fields.take("match")
    matcher = MATCH_ALL if match_node is None else _parse_match(reader, match_node)
    hold = fields.read("for", reader.duration)
    tiers = _parse_severity(reader, fields)
    labels = _parse_labels(reader, fields.take("labels"))
    annotations = _parse_annotations(reader, fields.take("annotations"))
    fields.reject_unknown(_COMMON_KEYS + kind_keys)

    if len(reader.errors) > errors_before or None in (
        name,
        kind,
        matcher,
        tiers,
        labels,
        annotations,
    ):
        return None
    assert name is not None
    assert kind is not None
    assert matcher is not None
    assert tiers is not None
    assert labels is not None
    assert annotations is not None
    return Rule(
        name=name,
        kind=kind,
        match=matcher,
        hold=hold or 0.0,
        tiers=tiers,
        labels=labels,
        annotations=annotations,
        file=reader.file,
        line=fields.line,
    )


def _parse_patterns(reader: Reader, node: yaml.Node, what: str) -> Pattern | None:
    values = reader.strings(node, what)
    if values is None:
        return None
    try:
        return compile_pattern(values)
    except ValueError as exc:
        reader.error(node, f"{what}: {exc}")
        return None


def parse_label_matchers(reader: Reader, node: yaml.Node, what: str) -> LabelMatchers | None:
    """A mapping of label name to pattern(s), as in rule `match.labels` and receiver `match`."""
    fields = reader.mapping(node, what)
    if fields is None:
        return None
    matchers: list[tuple[str, Pattern]] = []
    ok = True
    for label, value_node in fields.items():
        if not _LABEL_NAME.fullmatch(label):
            reader.error(fields.key_node(label), f"{what}: {label!r} is not a valid label name")
            ok = False
            continue
        pattern = _parse_patterns(reader, value_node, f"{what}.{label}")
        if pattern is None:
            ok = False
        else:
            matchers.append((label, pattern))
    return LabelMatchers(tuple(matchers)) if ok else None


def _parse_match(reader: Reader, node: yaml.Node) -> JobMatcher | None:
    fields = reader.mapping(node, "match")
    if fields is None:
        return None
    job_node = fields.take("job")
    job = None if job_node is None else _parse_patterns(reader, job_node, "match.job")
    labels_node = fields.take("labels")
    labels = (
        LabelMatchers()
        if labels_node is None
        else parse_label_matchers(reader, labels_node, "match.labels")
    )
    kinds_node = fields.take("job_kind")
    kinds: frozenset[str] | None = None
    if kinds_node is not None:
        values = reader.strings(kinds_node, "match.job_kind")
        bad = [v for v in values or () if v not in _JOB_KINDS]
        if bad:
            reader.error(
                kinds_node,
                f"match.job_kind: {', '.join(map(repr, bad))} not one of batch, pushgateway, otlp",
            )
        kinds = frozenset(values) if values and not bad else None
        if kinds is None:
            return None
    fields.reject_unknown(_MATCH_KEYS)
    if (job_node is not None and job is None) or labels is None:
        return None
    return JobMatcher(job, labels, kinds)


def _parse_severity(reader: Reader, fields: Fields) -> tuple[SeverityTier, ...] | None:
    severity_node = fields.take("severity")
    tiers_node = fields.take("severity_tiers")
    if severity_node is not None and tiers_node is not None:
        reader.error(tiers_node, "give either 'severity' or 'severity_tiers', not both")
        return None
    if tiers_node is None:
        if severity_node is None:
            return (SeverityTier(0.0, DEFAULT_SEVERITY),)
        severity = reader.string(severity_node, "severity")
        return None if severity is None else (SeverityTier(0.0, severity),)
    nodes = reader.sequence(tiers_node, "severity_tiers")
    if not nodes:
        if nodes is not None:
            reader.error(tiers_node, "severity_tiers must not be empty")
        return None
    tiers: list[SeverityTier] = []
    ok = True
    for node in nodes:
        tier = reader.mapping(node, "severity tier")
        if tier is None:
            ok = False
            continue
        after_node, severity_node = tier.require("after"), tier.require("severity")
        tier.reject_unknown(("after", "severity"))
        after = None if after_node is None else reader.duration(after_node, "after")
        severity = None if severity_node is None else reader.string(severity_node, "severity")
        if after is None or severity is None:
            ok = False
            continue
        if tiers and after <= tiers[-1].after:
            reader.error(
                after_node, "severity_tiers: 'after' must increase from one tier to the next"
            )
            ok = False
            continue
        tiers.append(SeverityTier(after, severity))
    return tuple(tiers) if ok else None


def _parse_labels(reader: Reader, node: yaml.Node | None) -> tuple[tuple[str, str], ...] | None:
    if node is None:
        return ()
    entries = reader.string_map(node, "labels")
    if entries is None:
        return None
    ok = True
    for name in entries:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            reader.error(entries[name][1], f"labels: {name!r} is not a valid label name")
            ok = False
        elif name in RESERVED_LABELS:
            reader.error(
                entries[name][1],
                f"labels: {name!r} is set by batchgate and cannot be set by a rule",
            )
            ok = False
    return tuple(sorted((name, value) for name, (value, _) in entries.items())) if ok else None


def _parse_annotations(
    reader: Reader, node: yaml.Node | None
) -> tuple[tuple[str, Template], ...] | None:
    if node is None:
        return ()
    entries = reader.string_map(node, "annotations")
    if entries is None:
        return None
    compiled: list[tuple[str, Template]] = []
    ok = True
    for name, (text, value_node) in entries.items():
        template = compile_template(reader, value_node, text, f"annotations.{name}")
        if template is None:
            ok = False
        else:
            compiled.append((name, template))
    return tuple(compiled) if ok else None


def _read_file(path: str | Path) -> tuple[str | None, ConfigError | None]:
    try:
        return Path(path).read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, ConfigError(str(path), 0, f"cannot read: {reason}")


def check_files(paths: Sequence[str | Path]) -> list[ConfigError]:
    """Every error in these rule files (sorted by file and line); empty when all are valid."""
    _, errors = collect_rules(paths)
    return errors


def collect_rules(paths: Sequence[str | Path]) -> tuple[list[Rule], list[ConfigError]]:
    """The valid rules of these files and every error found (sorted by file and line)."""
    ruleset, errors = collect_ruleset(paths)
    return list(ruleset.rules), errors


def collect_ruleset(paths: Sequence[str | Path]) -> tuple[RuleSet, list[ConfigError]]:
    """The valid rules and inhibit rules of these files as a RuleSet, and every error found
    (sorted by file and line)."""
    rules: list[Rule] = []
    inhibit_rules: list[InhibitRule] = []
    errors: list[ConfigError] = []
    first: dict[str, Rule] = {}
    for path in paths:
        text, error = _read_file(path)
        if text is None:
            errors.extend([error] if error else [])
            continue
        parsed, inhibitions, file_errors = parse_rule_file(text, str(path))
        inhibit_rules.extend(inhibitions)
        errors.extend(file_errors)
        for rule in parsed:
            earlier = first.get(rule.name)
            if earlier is not None:
                where = f"{earlier.file}:{earlier.line}"
                reason = f"rule {rule.name!r}: duplicate name (first at {where})"
                errors.append(ConfigError(rule.file, rule.line, reason))
                continue
            first[rule.name] = rule
            rules.append(rule)
    return RuleSet.of(rules, (str(path) for path in paths), inhibit_rules), sorted(errors)


def load_rules(paths: Sequence[str | Path]) -> RuleSet:
    """The rules of these files, or the default rules when no file is given.

    Raises ConfigErrors carrying every error when any file is invalid (nothing is loaded).
    """
    if not paths:
        return default_rules()
    ruleset, errors = collect_ruleset(paths)
    if errors:
        raise ConfigErrors(errors)
    return ruleset


DEFAULT_RULES_FILE: Final = "default_rules.yaml"


def default_rules() -> RuleSet:
    """The rules active with no configuration: any failure, stuck for 15 minutes, lost."""
    rules_file = resources.files("batchgate.rules").joinpath(DEFAULT_RULES_FILE)
    text = rules_file.read_text(encoding="utf-8")
    rules, errors = parse_rules(text, f"<batchgate>/{DEFAULT_RULES_FILE}")
    if errors:
        raise ConfigErrors(errors)
    return RuleSet.of(rules, (f"<batchgate>/{DEFAULT_RULES_FILE}",))


DECLARED_RULES_FILE: Final = "declared_rules.yaml"


def with_declared_rules(ruleset: RuleSet) -> RuleSet:
    """`ruleset` and the rules that judge the schedules jobs declare themselves (always on;
    a rule of the set with the same name replaces one)."""
    rules_file = resources.files("batchgate.rules").joinpath(DECLARED_RULES_FILE)
    declared, errors = parse_rules(
        rules_file.read_text(encoding="utf-8"), f"<batchgate>/{DECLARED_RULES_FILE}"
    )
    if errors:
        raise ConfigErrors(errors)
    added = [rule for rule in declared if rule.name not in ruleset.by_name]
    return RuleSet.of((*ruleset.rules, *added), ruleset.files, ruleset.inhibit_rules)


__all__ = [
    "DEFAULT_SEVERITY",
    "Rule",
    "RuleSet",
    "SeverityTier",
    "check_files",
    "collect_rules",
    "collect_ruleset",
    "default_rules",
    "load_rules",
    "parse_label_matchers",
    "parse_rule_file",
    "parse_rules",
    "with_declared_rules",
]
