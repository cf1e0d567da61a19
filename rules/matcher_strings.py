"""Alertmanager's matcher strings, as its configuration (`source_matchers`), amtool and its
API (`filter`) write them: `alertname="DatabaseDown"`, `severity=~"critical|high"`, `env!=dev`.

A label name, an operator (`=`, `!=`, `=~`, `!~`) and a value, double-quoted (escapes:
backslash-quote, backslash-backslash, backslash-n) or bare; regular expressions are anchored,
as everywhere in Alertmanager. They parse into `Matcher`, the silences' matcher too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher, as Alertmanager's silences and inhibit rules have them; a label
    the alert does not have reads as ""."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True
    regex: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.regex is not None:
            found = self.regex.fullmatch(actual) is not None
        else:
            found = actual == self.value
        return found == self.is_equal

    def matches_empty(self) -> bool:
        return self.matches({}) if self.is_equal else False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }


_MATCHER: Final = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", re.S)
_ESCAPES: Final = {"\\": "\\", '"': '"', "n": "\n"}


def parse_matcher(text: str) -> Matcher:
    """One matcher string as Alertmanager reads it; raises ValueError saying what is wrong."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(
            f'{text!r} is not a matcher (name, one of = != =~ !~, value: alertname="X")'
        )
    name, operator, raw = found.groups()
    value = _unquote(raw) if raw.startswith('"') else raw
    is_regex = operator in ("=~", "!~")
    regex = None
    if is_regex:
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: invalid regular expression: {exc}") from None
    return Matcher(name, value, is_regex, operator in ("=", "=~"), regex)


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """A comma-separated list of matchers, optionally in braces (`{a="b", c=~"d"}`), as
    amtool and Alertmanager's API take them; commas inside quotes are part of the value."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for character in body:
        if escaped:
            escaped = False
        elif character == "\\" and quoted:
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(character)
    if quoted:
        raise ValueError(f"{text!r}: a quoted value is not closed")
    parts.append("".join(current))
    return tuple(parse_matcher(part) for part in parts if part.strip())


def _unquote(raw: str) -> str:
    if len(raw) < 2 or not raw.endswith('"'):
        raise ValueError(f"{raw!r}: a quoted value must end with a quote")
    inner = raw[1:-1]
    out: list[str] = []
    index = 0
    while index < len(inner):
        character = inner[index]
        if character == "\\":
            following = inner[index + 1 : index + 2]
            if following not in _ESCAPES:
                raise ValueError(f"{raw!r}: unknown escape \\{following}")
            out.append(_ESCAPES[following])
            index += 2
            continue
        if character == '"':
            raise ValueError(f'{raw!r}: a quote inside a value must be escaped (\\")')
        out.append(character)
        index += 1
    return "".join(out)
