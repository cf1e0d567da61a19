"""The config file's alerting keys: rule files, evaluation interval, receivers, and the outbox.

Read with the rules package's YAML reader, so every error points at its file and line; the
same function runs at start (a bad value stops batchgate) and on a reload (a bad value keeps
what is in effect).
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import yaml

from batchgate.rules import ConfigError, Receiver, Silence, parse_receivers
from batchgate.rules.matcher_strings import Matcher, parse_matcher
from batchgate.rules.recurrence import parse_recurrence
from batchgate.rules.yaml_reader import Reader

ALERTING_KEYS: Final = (
    "external_url",
    "rules_files",
    "evaluation_interval",
    "receivers",
    "alerts",
    "notifications",
    "maintenance_windows",
)
"""Top-level keys of the config file read here (collector.settings leaves them alone)."""


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    queue_capacity: int = 10_000
    """Notifications waiting per receiver; beyond it the oldest are dropped (and counted)."""
    retry_initial: float = 1.0
    """The first retry of a failed delivery waits this long; each further one twice as long..."""
    retry_max: float = 300.0
    """...up to this."""
    give_up_after: float = 86400.0
    """A notification not delivered this long after it was due is dropped (and counted)."""


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    rules_files: tuple[str, ...] = ()
    """Rule files and globs from the config file (relative to its directory) then `--rules`;
    none: the default rules."""
    rules_flags: tuple[str, ...] = ()
    """The `--rules` files alone (a reload reads the config file again, then adds these)."""
    evaluation_interval: float = 5.0
    receivers: tuple[Receiver, ...] = ()
    external_url: str | None = None
    """batchgate's URL as people reach it, for links in notifications; None: derived from
    the listen address."""
    resolved_retention: float = 86400.0
    """How long a resolved alert stays listed in /alerts."""
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    maintenance_windows: tuple[Silence, ...] = ()
    """Recurring silences from the config file (ids `config:<name>`): in effect beside the
    silences made through the API, not stored, not deletable there."""

    def rule_paths(self) -> list[str]:
        """The rule files to load now: globs expanded (sorted), literal paths as given."""
        paths: list[str] = []
        for pattern in self.rules_files:
            if glob.has_magic(pattern):
                paths.extend(sorted(glob.glob(pattern)))
            else:
                paths.append(pattern)
        return list(dict.fromkeys(paths))


def alerting_settings(
    text: str | None, file: str | None, rules_flags: Sequence[str] | None = None
) -> tuple[AlertingSettings, list[ConfigError]]:
    """The alerting settings of a config file's text (None: no config file) plus the
    `--rules` flags, and every error found (file, line, reason)."""
    flags = tuple(str(Path(path)) for path in rules_flags or ())
    if text is None or file is None:
        return AlertingSettings(rules_files=flags, rules_flags=flags), []
    reader = Reader(file)
    root = reader.compose(text)
    if not isinstance(root, yaml.MappingNode):
        # An empty file is no settings; any other shape is collector.settings' to report.
        return AlertingSettings(rules_files=flags, rules_flags=flags), reader.errors
    fields = reader.mapping(root, "config")
    assert fields is not None
    base = Path(file).parent
    values: dict[str, object] = {"rules_files": flags, "rules_flags": flags}

    node = fields.take("rules_files")
    if node is not None and not (isinstance(node, yaml.SequenceNode) and not node.value):
        files = reader.strings(node, "rules_files")
        if files is not None:
            values["rules_files"] = tuple(str(base / name) for name in files if name) + flags
    interval = fields.read("evaluation_interval", reader.positive_duration)
    if interval is not None:
        values["evaluation_interval"] = interval
    node = fields.take("receivers")
    if node is not None:
        values["receivers"] = tuple(parse_receivers(reader, node))
    node = fields.take("external_url")
    if node is not None:
        url = reader.string(node, "external_url")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                reader.error(node, f"external_url: {url!r} is not an http(s) URL")
            else:
                values["external_url"] = url.rstrip("/")
    node = fields.take("alerts")
    if node is not None:
        alerts = reader.mapping(node, "alerts")
        if alerts is not None:
            retention = alerts.read("resolved_retention", reader.positive_duration)
            if retention is not None:
                values["resolved_retention"] = retention
            alerts.reject_unknown(("resolved_retention",))
    node = fields.take("notifications")
    if node is not None:
        values["notifications"] = _notification_settings(reader, node)
    node = fields.take("maintenance_windows")
    if node is not None:
        values["maintenance_windows"] = _maintenance_windows(reader, node)
    return AlertingSettings(**values), reader.errors  # type: ignore[arg-type]


_WINDOW_KEYS: Final = ("name", "matchers", "schedule", "duration", "timezone", "comment")
CONFIG_SILENCE_PREFIX: Final = "config:"
_FOREVER: Final = 253_402_300_799.0
"""9999-12-31T23:59:59Z: a window from the config file lasts as long as the file says it."""


def _maintenance_windows(reader: Reader, node: yaml.Node) -> tuple[Silence, ...]:
    """`maintenance_windows:`, recurring silences: a name, Alertmanager matcher strings, a
    cron schedule, a duration, a time zone and a comment; every error with its line."""
    windows: list[Silence] = []
    seen: set[str] = set()
    for item in reader.sequence(node, "maintenance_windows") or ():
        fields = reader.mapping(item, "maintenance window")
        if fields is None:
            continue
        errors_before = len(reader.errors)
        name_node = fields.require("name")
        name = None if name_node is None else reader.string(name_node, "name")
        if name is not None and name in seen:
            reader.error(name_node, f"maintenance_windows: duplicate name {name!r}")
        seen.add(name or "")
        matchers: list[Matcher] = []
        matchers_node = fields.require("matchers")
        for index, text in enumerate(
            (reader.strings(matchers_node, "matchers") or []) if matchers_node else []
        ):
            try:
                matchers.append(parse_matcher(text))
            except ValueError as exc:
                reader.error(matchers_node, f"matchers[{index}]: {exc}")
        if matchers and all(matcher.matches_empty() for matcher in matchers):
            reader.error(matchers_node, "matchers: they all match the empty string (every alert)")
        raw: dict[str, str] = {}
        for key in ("schedule", "duration", "timezone"):
            value_node = fields.require(key) if key != "timezone" else fields.take(key)
            value = None if value_node is None else reader.string(value_node, key)
            if value is not None:
                raw[key] = value
        comment_node = fields.take("comment")
        comment = None if comment_node is None else reader.string(comment_node, "comment")
        fields.reject_unknown(_WINDOW_KEYS)
        if "schedule" not in raw or "duration" not in raw:
            continue  # reported as missing
        recurrence, problems = parse_recurrence(raw)
        for where, reason in problems:
            reader.error(item, f"maintenance window {name!r}: {where}: {reason}")
        if len(reader.errors) > errors_before or recurrence is None or name is None:
            continue
        windows.append(
            Silence(
                f"{CONFIG_SILENCE_PREFIX}{name}",
                tuple(matchers),
                0.0,
                _FOREVER,
                "the config file",
                comment or f"maintenance window {name}",
                0.0,
                recurrence,
            )
        )
    return tuple(windows)


def _notification_settings(reader: Reader, node: yaml.Node) -> NotificationSettings:
    fields = reader.mapping(node, "notifications")
    if fields is None:
        return NotificationSettings()
    defaults = NotificationSettings()
    capacity = fields.read(
        "queue_capacity", lambda n, w: reader.integer(n, w, minimum=1, maximum=10_000_000)
    )
    initial = fields.read("retry_initial", reader.positive_duration)
    longest = fields.read("retry_max", reader.positive_duration)
    give_up = fields.read("give_up_after", reader.positive_duration)
    fields.reject_unknown(("queue_capacity", "retry_initial", "retry_max", "give_up_after"))
    settings = NotificationSettings(
        queue_capacity=capacity or defaults.queue_capacity,
        retry_initial=initial or defaults.retry_initial,
        retry_max=longest or defaults.retry_max,
        give_up_after=give_up or defaults.give_up_after,
    )
    if settings.retry_max < settings.retry_initial:
        reader.error(node, "notifications: retry_max must not be shorter than retry_initial")
    return settings
