"""The values of a JSON export's number points as protobuf's JSON parser reads them, for
the forms the same-shape path takes; any other form is left to the parser (None).

Both ways of reading a repeated JSON export (`repeats.json_reading` from the `json`
module's object, `json_text` from the body's text) convert the values here, so both take
exactly the same forms (docs/decisions.md, "OTLP exports that repeat")."""

from __future__ import annotations

import math
from typing import Any, Final

INT64: Final = 1 << 63
UINT64: Final = 1 << 64
_SPECIAL_DOUBLES: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def read_double(raw: Any) -> float | None:
    """A double as protobuf's JSON parser reads it, for the forms taken here; else None."""
    kind = type(raw)
    if kind is float:
        return raw if math.isfinite(raw) else None  # the parser refuses the others
    if kind is int:
        return float(raw) if -INT64 <= raw < INT64 else None
    if kind is str:
        return _SPECIAL_DOUBLES.get(raw)
    return None


def read_integer(raw: Any, low: int, high: int) -> int | None:
    """A 64-bit integer in [low, high) as protobuf's JSON parser reads it, for the forms
    taken here (a JSON integer, a string of at most 20 decimal digits with an optional
    `-`); else None."""
    kind = type(raw)
    if kind is str:
        digits = raw[1:] if raw[:1] == "-" else raw
        # More than 20 digits (leading zeros, or out of range): left to the parser, as
        # `int` refuses strings past 4,300 digits.
        if not (len(digits) <= 20 and digits.isascii() and digits.isdigit()):
            return None
        raw = int(raw)
    elif kind is not int:
        return None
    return raw if low <= raw < high else None


__all__ = ["INT64", "UINT64", "read_double", "read_integer"]
