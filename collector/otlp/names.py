"""Prometheus names for OTLP metrics and attributes, as the OpenTelemetry specification's
Prometheus compatibility section and Prometheus' own OTLP translator (otlptranslator) build
them: the name's words joined by `_`, the unit's words appended (`_seconds`, `_bytes`,
`_per_second`), `_total` on monotonic counters, `_ratio` on unit-1 gauges; attribute names
with every character Prometheus does not allow turned into `_`."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, Final

UNIT_WORDS: Final = {
    # Time
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    # Bytes
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    # SI
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    # Misc
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
"""otlptranslator's unitMap: UCUM units as Prometheus words (unit `1` adds no word)."""

PER_UNIT_WORDS: Final = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}
"""otlptranslator's perUnitMap: the unit after `/` (`m/s` is meters_per_second)."""

_NOT_ALPHANUMERIC: Final = re.compile(r"[^a-zA-Z0-9]+")
_NOT_LABEL_CHARACTER: Final = re.compile(r"[^a-zA-Z0-9_]")
_ANNOTATION: Final = re.compile(r"\{[^}]*\}")


def _words(text: str) -> list[str]:
    return [word for word in _NOT_ALPHANUMERIC.split(text) if word]


def unit_words(unit: str) -> list[str]:
    """The words a unit adds to a name: `ms` -> [milliseconds], `By/s` -> [bytes, per,
    second], `{request}` -> [] (annotations in braces carry no unit)."""
    unit = _ANNOTATION.sub("", unit).strip()
    if not unit:
        return []
    main, _, per = unit.partition("/")
    words = []
    main = main.strip()
    if main:
        words.extend(_words(UNIT_WORDS.get(main, main)))
    per = per.strip()
    if per:
        words.extend(["per", *_words(PER_UNIT_WORDS.get(per, per))])
    return words


def metric_name(name: str, unit: str, *, counter: bool, gauge: bool) -> str:
    """The Prometheus name of an OTLP metric: its words joined by `_`, its unit's words
    appended unless the name already ends with them, `_total` on a monotonic sum
    (`counter`), `_ratio` on a gauge of unit `1`. A name starting with a digit gets `_`."""
    words = _words(name)
    if counter:
        # `total` is moved to the end, as otlptranslator does.
        words = [word for word in words if word != "total"]
    suffix = unit_words(unit)
    if suffix and words[-len(suffix) :] != suffix:
        words.extend(suffix)
    if gauge and unit.strip() == "1" and words[-1:] != ["ratio"]:
        words.append("ratio")
    if counter:
        words.append("total")
    result = "_".join(words)
    if not result:
        return "_"
    if result[0].isdigit():
        return "_" + result
    return result


@functools.lru_cache(maxsize=4096)
def label_name(name: str) -> str:
    """An attribute's name as a label: invalid characters turned into `_`, `key_` before a
    leading digit, `key` before a single leading `_` (`__` names are Prometheus' own)."""
    result = _NOT_LABEL_CHARACTER.sub("_", name)
    if not result:
        return "key_"
    if result[0].isdigit():
        return "key_" + result
    if result.startswith("_") and not result.startswith("__"):
        return "key" + result
    return result


def attribute_text(value: Any) -> str:
    """An attribute's value as a label value, as otlptranslator writes pcommon values: a
    string as is, a bool `true`/`false`, numbers in decimal, arrays and maps as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def labels_from(attributes: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Attributes as labels. Two attributes that sanitise to one name are joined with `;`
    in the order of their original names, as the specification says."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for name, value in attributes:
        grouped.setdefault(label_name(name), []).append((name, attribute_text(value)))
    return {
        label: ";".join(value for _, value in sorted(values)) if len(values) > 1 else values[0][1]
        for label, values in grouped.items()
    }
