"""Receivers: where notifications go, read from the config file's `receivers:` section.

Three integrations: `webhook` (POSTs Alertmanager's webhook v4 JSON), `alertmanager` (POSTs to
its `/api/v2/alerts`), and `template` (a jinja2 body and headers, e.g. Slack or Teams). Every
receiver whose `match` matches an alert's labels gets it (there is no routing tree: a receiver
without `match` gets every alert).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import yaml

from batchgate.rules.errors import ConfigError
from batchgate.rules.matchers import MATCH_EVERY_ALERT, LabelMatchers
from batchgate.rules.ruleset import parse_label_matchers
from batchgate.rules.templates import Template, compile_template
from batchgate.rules.yaml_reader import Reader

WEBHOOK: Final = "webhook"
ALERTMANAGER: Final = "alertmanager"
TEMPLATE: Final = "template"
INTEGRATIONS: Final = (WEBHOOK, ALERTMANAGER, TEMPLATE)

DEFAULT_REPEAT_INTERVAL: Final = 4 * 3600.0
"""As Alertmanager's route default: a firing alert is notified again every 4 hours."""
ALERTMANAGER_RESEND_INTERVAL: Final = 60.0
"""As Prometheus' `--rules.alert.resend-delay`: firing alerts are re-sent to Alertmanager every
minute, so that it does not time them out."""
DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_GROUP_BY: Final = ("alertname", "job")

_RECEIVER_KEYS: Final = (
    "name",
    *INTEGRATIONS,
    "match",
    "send_resolved",
    "repeat_interval",
    "timeout",
    "group_by",
)
_INTEGRATION_KEYS: Final = {
    WEBHOOK: ("url", "headers", "max_alerts"),
    ALERTMANAGER: ("url", "headers"),
    TEMPLATE: ("url", "method", "headers", "body"),
}
_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_HEADER: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_METHODS: Final = ("POST", "PUT", "PATCH")


@dataclass(frozen=True, slots=True, eq=False)
class Receiver:
    """One configured receiver."""

    name: str
    integration: str
    url: str
    """For `alertmanager`, the full `/api/v2/alerts` URL."""
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    """Literal headers (webhook, alertmanager)."""
    header_templates: tuple[tuple[str, Template], ...] = ()
    """Templated headers (template)."""
    body: Template | None = None
    match: LabelMatchers = MATCH_EVERY_ALERT
    send_resolved: bool = True
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    max_alerts: int = 0
    """Webhook only: at most this many alerts per request (0: no limit), as Alertmanager's."""
    file: str = "<string>"
    line: int = 0


@dataclass(slots=True)
class _Integration:
    """What the integration's own mapping (`webhook: {...}` etc.) says."""

    url: str = ""
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    header_templates: tuple[tuple[str, Template], ...] = ()
    body: Template | None = None
    max_alerts: int = 0


class Router:
    """Which receivers get which alert: every receiver whose `match` matches its labels."""

    def __init__(self, receivers: Sequence[Receiver] = ()) -> None:
        self.receivers = tuple(receivers)
        self._by_name = {receiver.name: receiver for receiver in self.receivers}

    def route(self, labels: Mapping[str, str]) -> list[Receiver]:
        return [receiver for receiver in self.receivers if receiver.match.matches(labels)]

    def get(self, name: str) -> Receiver | None:
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self.receivers)


def load_receivers(text: str, file: str = "<string>") -> tuple[list[Receiver], list[ConfigError]]:
    """The receivers in a config file's text (its `receivers:` key; other keys are the
    caller's to check), and every error found."""
    reader = Reader(file)
    root = reader.compose(text)
    if root is None:
        return [], reader.errors
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "receivers":
                return parse_receivers(reader, value_node), reader.errors
    elif not (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null")):
        reader.error(root, "config file must be a mapping")
    return [], reader.errors


def parse_receivers(reader: Reader, node: yaml.Node) -> list[Receiver]:
    """Read the value of `receivers:` (a list); errors go to `reader.errors`."""
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return []
    items = reader.sequence(node, "receivers")
    receivers: list[Receiver] = []
    seen: dict[str, int] = {}
    for item in items or ():
        receiver = _parse_receiver(reader, item)
        if receiver is None:
            continue
        if receiver.name in seen:
            reader.error_at(
                receiver.line,
                f"receiver {receiver.name!r}: duplicate name (first at line {seen[receiver.name]})",
            )
            continue
        seen[receiver.name] = receiver.line
        receivers.append(receiver)
    return receivers


def _parse_receiver(reader: Reader, node: yaml.Node) -> Receiver | None:
    fields = reader.mapping(node, "receiver")
    if fields is None:
        return None
    errors_before = len(reader.errors)
    name_node = fields.require("name")
    name = None if name_node is None else reader.string(name_node, "name")
    if name is not None and not _NAME.fullmatch(name):
        reader.error(name_node, f"name: {name!r} may only hold letters, digits, '_', '.' and '-'")
    fields.what = f"receiver {name!r}" if name else fields.what

    present = [key for key in INTEGRATIONS if key in fields]
    if len(present) != 1:
        reader.error(
            fields.node,
            f"{fields.what}: give exactly one of {', '.join(INTEGRATIONS)}"
            + (f" (found {', '.join(present)})" if present else ""),
        )
    integration = present[0] if present else None
    settings = _Integration()
    for key in present:
        integration_node = fields.take(key)
        assert integration_node is not None
        settings = _parse_integration(reader, key, integration_node)

    match_node = fields.take("match")
    match = (
        LabelMatchers() if match_node is None else parse_label_matchers(reader, match_node, "match")
    )
    send_resolved = fields.read("send_resolved", reader.boolean)
    repeat_interval = fields.read("repeat_interval", reader.positive_duration)
    timeout = fields.read("timeout", reader.positive_duration)
    group_by = fields.read("group_by", reader.strings)
    fields.reject_unknown(_RECEIVER_KEYS)
    if len(reader.errors) > errors_before or name is None or integration is None or match is None:
        return None
    default_repeat = (
        ALERTMANAGER_RESEND_INTERVAL if integration == ALERTMANAGER else DEFAULT_REPEAT_INTERVAL
    )
    return Receiver(
        name=name,
        integration=integration,
        url=settings.url,
        method=settings.method,
        headers=settings.headers,
        header_templates=settings.header_templates,
        body=settings.body,
        match=match,
        send_resolved=True if send_resolved is None else send_resolved,
        repeat_interval=repeat_interval or default_repeat,
        timeout=timeout or DEFAULT_TIMEOUT,
        group_by=tuple(group_by) if group_by else DEFAULT_GROUP_BY,
        max_alerts=settings.max_alerts,
        file=reader.file,
        line=fields.line,
    )


def _parse_integration(reader: Reader, integration: str, node: yaml.Node) -> _Integration:
    settings = _Integration()
    fields = reader.mapping(node, integration)
    if fields is None:
        return settings
    url_node = fields.require("url")
    url = None if url_node is None else reader.string(url_node, f"{integration}.url")
    if url is not None and url_node is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            reader.error(url_node, f"{integration}.url: {url!r} is not an http(s) URL")
        elif integration == ALERTMANAGER and not parts.path.rstrip("/").endswith("/api/v2/alerts"):
            url = url.rstrip("/") + "/api/v2/alerts"
        settings.url = url
    headers_node = fields.take("headers")
    if headers_node is not None:
        headers = reader.string_map(headers_node, f"{integration}.headers") or {}
        for header, (_, value_node) in headers.items():
            if not _HEADER.fullmatch(header):
                reader.error(
                    value_node, f"{integration}.headers: {header!r} is not a valid header name"
                )
        if integration == TEMPLATE:
            compiled = [
                (header, compile_template(reader, value_node, value, f"template.headers.{header}"))
                for header, (value, value_node) in headers.items()
            ]
            settings.header_templates = tuple((h, t) for h, t in compiled if t is not None)
        else:
            settings.headers = tuple((header, value) for header, (value, _) in headers.items())
    if integration == WEBHOOK:
        max_alerts = fields.read(
            "max_alerts", lambda n, w: reader.integer(n, w, minimum=0, maximum=10**6)
        )
        settings.max_alerts = max_alerts or 0
    if integration == TEMPLATE:
        method = fields.read("method", lambda n, w: reader.choice(n, w, _METHODS))
        settings.method = method or "POST"
        body_node = fields.require("body")
        body = None if body_node is None else reader.string(body_node, "template.body")
        if body is not None and body_node is not None:
            settings.body = compile_template(reader, body_node, body, "template.body")
    fields.reject_unknown(_INTEGRATION_KEYS[integration])
    return settings
