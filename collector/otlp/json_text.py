"""A repeated JSON export read from its text: the body cut at its values, as
pushgateway/same_shape.py cuts a text push (docs/decisions.md, "OTLP exports that repeat").

A cut is kept from a body that the `json` module read and whose every resource repeated a
kept shape (`repeats.read_export`). It holds the body's text between the values of
`asDouble`, `asInt`, `startTimeUnixNano` and `timeUnixNano` (found by one regular
expression), and is kept only once proved: the body with each value replaced by a
distinct unguessable placeholder string parses to the object `repeats.json_reading` read,
with exactly those four fields of its gauge and sum points replaced, in document order.
So each piece cut out is one whole value of one of those fields, and nothing else is.

A later body repeats the cut when the same expression's values, each one JSON number or
string of a strict form (no escapes, bounded length), rebuild the body byte for byte with
the kept pieces. By JSON's grammar it is then the proved body with only those values
changed: each resource has the digest the `json` module's reading gave, and its values are
converted by the same rules (`json_scalars`). Any other body is left to the `json` module.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from batchgate.collector.otlp.json_scalars import INT64, UINT64, read_double, read_integer
from batchgate.collector.otlp.points import Reading

_VALUE: Final = re.compile(
    rb'"(?:asDouble|asInt|startTimeUnixNano|timeUnixNano)"[ \t\n\r]*:[ \t\n\r]*'
    rb"(-?(?:0|[1-9][0-9]{0,39})(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,4})?"
    rb'|"[-+.0-9A-Za-z]{0,40}")'
)
"""A value of one of the four fields, in the forms taken (the value is the group). A longer
number or string is cut short, so the body is not rebuilt and is left to `json`."""
_FIELDS: Final = ("asDouble", "asInt", "startTimeUnixNano", "timeUnixNano")
_DOUBLE: Final = 0
_INTEGER: Final = 1


@dataclass(frozen=True, slots=True)
class _ResourceCut:
    """Where a resource's values are among the body's values."""

    digest: bytes
    values: array[int]
    """Each point's `asDouble` or `asInt`, in order (arrays, not tuples of ints: a cut is
    kept for every series of a group that repeats its exports)."""
    kinds: bytes
    """_DOUBLE or _INTEGER, for each of `values`."""
    starts: array[int]
    """Each point's `startTimeUnixNano`; the number of values when it has none (read as 0)."""
    times: array[int]
    """Likewise, `timeUnixNano`."""


@dataclass(frozen=True, slots=True)
class JsonText:
    """A proved body, cut at its values."""

    parts: tuple[bytes, ...]
    """The text before each value, then after the last: one more than the values. Equal
    pieces are one object (most are: the text between points repeats)."""
    resources: tuple[_ResourceCut, ...]

    def readings(self, body: bytes) -> list[Reading] | None:
        """Each resource's reading of `body` (as `repeats.json_reading` would read it), if
        `body` is this cut with other values in the forms taken; else None."""
        tokens = _VALUE.findall(body)
        if len(tokens) != len(self.parts) - 1:
            return None
        pieces: list[bytes] = [b""] * (2 * len(tokens) + 1)
        pieces[0::2] = self.parts
        pieces[1::2] = tokens
        if b"".join(pieces) != body:
            return None
        try:
            raws: list[Any] = json.loads(b"[" + b",".join(tokens) + b"]")
        except ValueError:
            return None
        raws.append(0)  # what a point without a start or time reads as
        readings = []
        for resource in self.resources:
            values = _values(list(map(raws.__getitem__, resource.values)), resource.kinds)
            starts = _times(list(map(raws.__getitem__, resource.starts)))
            times = _times(list(map(raws.__getitem__, resource.times)))
            if values is None or starts is None or times is None:
                return None
            readings.append(Reading(resource.digest, values, starts, times))
        return readings


def _values(raws: list[Any], kinds: bytes) -> list[float] | None:
    # All at once in C in the usual case (every value a finite JSON float), else each.
    floats = _INTEGER not in kinds and set(map(type, raws)) == {float}
    if floats and all(map(math.isfinite, raws)):
        return raws
    values = list(map(_value, kinds, raws))
    return None if None in values else values  # type: ignore[return-value]


def _value(kind: int, raw: Any) -> float | None:
    if kind == _DOUBLE:
        return read_double(raw)
    number = read_integer(raw, -INT64, INT64)
    return float(number) if number is not None else None


def _times(raws: list[Any]) -> list[int] | None:
    # Decimal strings (as OTLP's JSON writes them) or JSON integers all at once, else each.
    kinds = set(map(type, raws))
    if kinds == {str} and all(raws):
        digits = "".join(raws)
        if digits.isascii() and digits.isdigit():
            times = list(map(int, raws))
            return times if max(times) < UINT64 else None
    if kinds == {int}:
        return raws if min(raws) >= 0 and max(raws) < UINT64 else None
    each = [read_integer(raw, 0, UINT64) for raw in raws]
    return None if None in each else each  # type: ignore[return-value]


def cut(body: bytes, read: Any, readings: Sequence[Reading]) -> JsonText | None:
    """`body` cut at its values, if the cut is proved (see the module's text). `read` is
    the `json` module's object of `body` as `json_reading` left it (its values set to 0),
    `readings` what that gave for each resource."""
    parts: list[bytes] = []
    shared: dict[bytes, bytes] = {}
    end = 0
    for match in _VALUE.finditer(body):
        part = body[end : match.start(1)]
        parts.append(shared.setdefault(part, part))
        end = match.end(1)
    parts.append(body[end:])
    nonce = secrets.token_hex(16)
    placeholders = [f"{nonce}-{number}" for number in range(len(parts) - 1)]
    marked: list[bytes] = [b""] * (2 * len(placeholders) + 1)
    marked[0::2] = parts
    marked[1::2] = [f'"{placeholder}"'.encode() for placeholder in placeholders]
    try:
        decoded = json.loads(b"".join(marked))
    except (ValueError, RecursionError):
        return None
    found: list[Any] = []
    resources = _placed(decoded, found)
    if resources is None or found != placeholders or decoded != read:
        return None
    if len(resources) != len(readings):
        return None
    cuts = []
    for (values, kinds, starts, times), reading in zip(resources, readings, strict=True):
        if len(values) != len(reading.values):
            return None
        start_at = array("q", [len(found) if at is None else at for at in starts])
        time_at = array("q", [len(found) if at is None else at for at in times])
        cuts.append(_ResourceCut(reading.digest, array("q", values), kinds, start_at, time_at))
    return JsonText(tuple(parts), tuple(cuts))


_Placed = tuple[tuple[int, ...], bytes, tuple[int | None, ...], tuple[int | None, ...]]


def _placed(decoded: Any, found: list[Any]) -> list[_Placed] | None:
    """Where each resource's values are: the four fields' values of its gauge and sum
    points, walked as `json_reading` walks them, are appended to `found` and set to 0 as it
    sets them; each point's are numbered by their place in `found`. None if a point has
    both `asDouble` and `asInt`, or neither, or the object is not as `json_reading` reads."""
    resources = decoded.get("resourceMetrics") if type(decoded) is dict else None
    if type(resources) is not list:
        return None
    placed = []
    for resource in resources:
        values: list[int] = []
        kinds = bytearray()
        starts: list[int | None] = []
        times: list[int | None] = []
        for point in _points(resource):
            if point is None or ("asDouble" in point) == ("asInt" in point):
                return None
            at: dict[str, int] = {}
            for field, raw in point.items():
                if field in _FIELDS:
                    at[field] = len(found)
                    found.append(raw)
                    point[field] = 0
            values.append(at.get("asDouble", at.get("asInt", 0)))
            kinds.append(_DOUBLE if "asDouble" in at else _INTEGER)
            starts.append(at.get("startTimeUnixNano"))
            times.append(at.get("timeUnixNano"))
        placed.append((tuple(values), bytes(kinds), tuple(starts), tuple(times)))
    return placed


def _points(resource: Any) -> list[Any]:
    """The gauge and sum points of a resource (None for anything not as expected)."""
    if type(resource) is not dict:
        return [None]
    points: list[Any] = []
    for scope in _items(resource.get("scopeMetrics", [])):
        for metric in _items(scope.get("metrics", []) if type(scope) is dict else None):
            data = metric.get("gauge", metric.get("sum")) if type(metric) is dict else None
            if type(data) is not dict:
                return [None]
            points.extend(_items(data.get("dataPoints", [])))
    return [point if type(point) is dict else None for point in points]


def _items(items: Any) -> list[Any]:
    return items if type(items) is list else [None]


class JsonTexts:
    """The kept cuts, by the text before a body's first value; each kept shape's digest is
    in at most one cut, which is dropped with it."""

    __slots__ = ("_cuts", "_prefix_of")

    def __init__(self) -> None:
        self._cuts: dict[bytes, JsonText] = {}
        self._prefix_of: dict[bytes, bytes] = {}

    def readings(self, body: bytes) -> list[Reading] | None:
        """The readings of `body` if it repeats a kept cut (`JsonText.readings`)."""
        if not self._cuts:
            return None
        first = _VALUE.search(body)
        text = self._cuts.get(body[: first.start(1)] if first is not None else body)
        return text.readings(body) if text is not None else None

    def keep(self, body: bytes, read: Any, readings: Sequence[Reading]) -> None:
        """Keep `body`'s cut (`cut`), if proved, in place of the cuts of its digests."""
        text = cut(body, read, readings)
        if text is None:
            return
        for resource in text.resources:
            self.forget(resource.digest)
        prefix = text.parts[0]
        old = self._cuts.pop(prefix, None)
        if old is not None:
            for resource in old.resources:
                self._prefix_of.pop(resource.digest, None)
        self._cuts[prefix] = text
        for resource in text.resources:
            self._prefix_of[resource.digest] = prefix

    def forget(self, digest: bytes) -> None:
        """Drop the cut that holds `digest`, if any."""
        prefix = self._prefix_of.pop(digest, None)
        text = self._cuts.pop(prefix, None) if prefix is not None else None
        if text is not None:
            for resource in text.resources:
                self._prefix_of.pop(resource.digest, None)

    def clear(self) -> None:
        self._cuts.clear()
        self._prefix_of.clear()

    def __len__(self) -> int:
        return len(self._cuts)


__all__ = ["JsonText", "JsonTexts", "cut"]
