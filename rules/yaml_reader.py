"""Reading YAML node trees into typed values, with every error reported at its line.

The loaders compose YAML into nodes (which carry line numbers) rather than loading plain
objects, so that a wrong value, a missing key or a typo in a key is reported as `file:line:
reason`, and so that all the errors of a file are collected in one pass.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import yaml

from batchgate.rules.durations import parse_duration, parse_ratio, parse_size
from batchgate.rules.errors import ConfigError

T = TypeVar("T")

_STR: Final = "tag:yaml.org,2002:str"
_INT: Final = "tag:yaml.org,2002:int"
_FLOAT: Final = "tag:yaml.org,2002:float"
_BOOL: Final = "tag:yaml.org,2002:bool"
_NULL: Final = "tag:yaml.org,2002:null"

_CONSTRUCTOR: Final = yaml.SafeLoader("")


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class Reader:
    """Collects the errors found while reading one file's nodes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []

    def error(self, node: yaml.Node | None, reason: str) -> None:
        self.errors.append(ConfigError(self.file, line_of(node) if node is not None else 0, reason))

    def error_at(self, line: int, reason: str) -> None:
        self.errors.append(ConfigError(self.file, line, reason))

    def compose(self, text: str) -> yaml.Node | None:
        """The document's root node, or None (with an error) when the YAML does not parse."""
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 0
            reason = " ".join(part for part in (exc.context, exc.problem) if part)
            self.error_at(line, f"invalid YAML: {reason}")
        except yaml.YAMLError as exc:
            self.error_at(0, f"invalid YAML: {exc}")
        return None

    def mapping(self, node: yaml.Node, what: str) -> Fields | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping")
            return None
        return Fields(self, node, what)

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list")
            return None
        return list(node.value)

    def string(self, node: yaml.Node, what: str, *, allow_empty: bool = False) -> str | None:
        """A scalar read as the text that was written (`yes` stays "yes", `42` stays "42")."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL:
            self.error(node, f"{what} must be a string")
            return None
        text = str(node.value)
        if not text and not allow_empty:
            self.error(node, f"{what} must not be empty")
            return None
        return text

    def strings(self, node: yaml.Node, what: str) -> list[str] | None:
        """One string or a list of strings."""
        if isinstance(node, yaml.SequenceNode):
            values = [self.string(item, what, allow_empty=True) for item in node.value]
            if not values:
                self.error(node, f"{what} must not be an empty list")
                return None
            return (
                None
                if any(value is None for value in values)
                else [v for v in values if v is not None]
            )
        value = self.string(node, what, allow_empty=True)
        return None if value is None else [value]

    def string_map(self, node: yaml.Node, what: str) -> dict[str, tuple[str, yaml.Node]] | None:
        """A mapping of string keys to string values, each value with its node."""
        fields = self.mapping(node, what)
        if fields is None:
            return None
        result: dict[str, tuple[str, yaml.Node]] = {}
        for key, value_node in fields.items():
            value = self.string(value_node, f"{what}: value of {key!r}", allow_empty=True)
            if value is not None:
                result[key] = (value, value_node)
        return result

    def duration(self, node: yaml.Node, what: str) -> float | None:
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT) and node.value != "0":
            self.error(
                node, f"{what}: {node.value!r} needs a unit, e.g. {node.value}s or {node.value}m"
            )
            return None
        return self._parsed(node, what, parse_duration)

    def positive_duration(self, node: yaml.Node, what: str) -> float | None:
        value = self.duration(node, what)
        if value is not None and value <= 0:
            self.error(node, f"{what} must be longer than 0s")
            return None
        return value

    def number(self, node: yaml.Node, what: str, *, minimum: float | None = None) -> float | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT, _FLOAT):
            self.error(node, f"{what} must be a number")
            return None
        value = float(_CONSTRUCTOR.construct_object(node))
        if not math.isfinite(value):
            self.error(node, f"{what} must be a finite number")
            return None
        if minimum is not None and value < minimum:
            self.error(node, f"{what} must be at least {minimum:g}")
            return None
        return value

    def integer(self, node: yaml.Node, what: str, *, minimum: int, maximum: int) -> int | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT:
            self.error(node, f"{what} must be a whole number")
            return None
        value = int(_CONSTRUCTOR.construct_object(node))
        if not minimum <= value <= maximum:
            self.error(node, f"{what} must be between {minimum} and {maximum}")
            return None
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL:
            self.error(node, f"{what} must be true or false")
            return None
        return bool(_CONSTRUCTOR.construct_object(node))

    def size(self, node: yaml.Node, what: str) -> float | None:
        """A number, or a byte size with a unit (`512MiB`)."""
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT):
            return self.number(node, what, minimum=0)
        return self._parsed(node, what, parse_size)

    def ratio(self, node: yaml.Node, what: str) -> float | None:
        """A fraction between 0 and 1, written `0.25` or `25%`."""
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT):
            value = self.number(node, what)
        else:
            value = self._parsed(node, what, parse_ratio)
        if value is not None and not 0 <= value <= 1:
            self.error(node, f"{what} must be between 0 and 1 (or 0% and 100%)")
            return None
        return value

    def choice(self, node: yaml.Node, what: str, choices: tuple[str, ...]) -> str | None:
        value = self.string(node, what)
        if value is not None and value not in choices:
            self.error(node, f"{what} must be one of {', '.join(choices)}; got {value!r}")
            return None
        return value

    def _parsed(self, node: yaml.Node, what: str, parse: Callable[[str], float]) -> float | None:
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return parse(text)
        except ValueError as exc:
            self.error(node, f"{what}: {exc}")
            return None


class Fields:
    """A YAML mapping being read: keys are taken one by one, and what is left is unknown."""

    def __init__(self, reader: Reader, node: yaml.MappingNode, what: str) -> None:
        self.reader = reader
        self.node = node
        self.what = what
        self._entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _NULL:
                reader.error(key_node, f"{what}: keys must be strings")
                continue
            key = str(key_node.value)
            if key in self._entries:
                first = line_of(self._entries[key][0])
                reader.error(key_node, f"{what}: duplicate key {key!r} (first at line {first})")
                continue
            self._entries[key] = (key_node, value_node)
        self._taken: set[str] = set()

    @property
    def line(self) -> int:
        return line_of(self.node)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def items(self) -> Iterator[tuple[str, yaml.Node]]:
        for key, (_, value_node) in self._entries.items():
            self._taken.add(key)
            yield key, value_node

    def key_node(self, key: str) -> yaml.Node:
        return self._entries[key][0]

    def take(self, key: str) -> yaml.Node | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._taken.add(key)
        return entry[1]

    def require(self, key: str) -> yaml.Node | None:
        value = self.take(key)
        if value is None:
            self.reader.error(self.node, f"{self.what}: missing required key {key!r}")
        return value

    def read(self, key: str, convert: Callable[[yaml.Node, str], T | None]) -> T | None:
        """Take `key` and convert its value, naming it in errors as `what.key`."""
        node = self.take(key)
        return None if node is None else convert(node, key)

    def reject_unknown(self, allowed: tuple[str, ...] | set[str] | None = None) -> None:
        """Report every key that was not taken, suggesting the closest known key."""
        known = sorted(allowed if allowed is not None else self._taken)
        for key, (key_node, _) in self._entries.items():
            if key in self._taken:
                continue
            close = difflib.get_close_matches(key, known, n=1) or [
                candidate for candidate in known if candidate.startswith(key) and len(key) >= 3
            ]
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f" (expected one of: {', '.join(known)})"
            )
            self.reader.error(key_node, f"{self.what}: unknown key {key!r}{hint}")
