"""Go's number and string formatting, byte for byte, where the Pushgateway's output depends on it.

The Pushgateway is written in Go: its exposition prints floats with `strconv.FormatFloat(v,
'g', -1, 64)`, its error messages quote with `%q`, and its protobuf error texts use the legacy
compact text format. A drop-in replacement must print the same bytes, so the few rules that
matter are reproduced here rather than approximated with Python's own formatting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import repeat
from typing import Final

_TWO_63: Final = 9223372036854775808.0
_UINT64_OVERFLOW: Final = 1 << 63
"""What Go on amd64 yields for a float64 -> uint64 conversion out of range (or of NaN)."""

_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    r"|[nN][aA][nN]"
)
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INFINITE_SPELLING = re.compile(r"[+-]?[iI][nN][fF]")
_DECIMAL_CHARACTERS: Final = "0123456789.eE+-"


def format_shortest(value: float) -> str:
    """`strconv.FormatFloat(value, 'g', -1, 64)` of a finite value: shortest digits, `1e+06`."""
    text = repr(value)
    if "e" in text:
        return text  # Python switches to exponent form exactly where Go does below 1e-4.
    point = text.find(".")
    if point - (text[0] == "-") <= 6:
        # The usual value: Python's repr is Go's, but for the ".0" of a whole number.
        return text[:point] if text.endswith(".0") else text
    negative = text[0] == "-"
    if negative:
        text = text[1:]
    integer, _, fraction = text.partition(".")
    if fraction == "0":
        fraction = ""
    if len(integer) > 6:
        # Go's exponent threshold is 1e6 for shortest 'g'; Python's repr waits until 1e16.
        digits = (integer + fraction).rstrip("0")
        mantissa = digits[0] + "." + digits[1:] if len(digits) > 1 else digits
        text = f"{mantissa}e+{len(integer) - 1:02d}"
    elif fraction:
        text = f"{integer}.{fraction}"
    else:
        text = integer
    return "-" + text if negative else text


# A plain decimal as expfmt writes one: no sign but a minus, no leading or trailing zeros,
# no exponent, at most 6 digits before the point (Go writes 1e+06) and at most 3 zeros
# after it before the first digit (Go writes 1e-05); not `-0`.
_CANONICAL = re.compile(
    rb"-?(?:[1-9][0-9]{0,5}(?:\.[0-9]*[1-9])?|0\.0{0,3}[1-9](?:[0-9]*[1-9])?)|0"
)
_CANONICAL_DIGITS: Final = 15
"""Any decimal of at most 15 significant digits survives a trip through a float64 (DBL_DIG)."""


def canonical_value(token: bytes) -> str | None:
    """The sample value `token`, if it is already written exactly as `format_sample_value`
    would write what it parses to (so parsing and writing it again would give it back);
    None otherwise. What clients push usually is (Go's and Python's clients write Go's
    shortest form), and this costs less than half of parsing and writing it."""
    if len(token) <= _CANONICAL_DIGITS and _CANONICAL.fullmatch(token) is not None:
        return token.decode("ascii")
    return None


def format_sample_value(value: float) -> str:
    """A sample value (or `le`/`quantile` label value) as expfmt's text encoder writes it."""
    if value == 0:
        return "0"  # -0 included: expfmt compares with == 0.
    if -1e6 < value < 1e6 and value == int(value):
        # Counts, mostly: Go writes an integer of up to 6 digits as its digits (from 7 on,
        # shortest 'g' switches to an exponent), as Python's int does. (Not is_integer():
        # an int may come here, a time given as one, and Python 3.11's int has none.)
        return str(int(value))
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return format_shortest(value)


_BELOW_A_MILLION: Final = (1e6).__gt__


def format_sample_values(values: Sequence[float]) -> list[str]:
    """`format_sample_value` of each of `values`, in bulk (no Python call per value in the
    usual case: an aggregating push writes every value of its body anew)."""
    if all(map(_BELOW_A_MILLION, map(abs, values))):  # False for NaN and the infinities
        # Below a million, Python's shortest repr is Go's but for the ".0" of a whole
        # number (see `format_shortest`), and for the sign of -0, which expfmt drops.
        texts = list(map(str.removesuffix, map(repr, values), repeat(".0")))
        if "-0" not in texts:
            return texts
    return list(map(format_sample_value, values))


def format_go_value(value: float) -> str:
    """`fmt.Sprint(value)` for a float64 (the JSON API's values): like the encoder, but `-0`."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return format_shortest(value)


def go_uint64(value: float) -> int:
    """Go's `uint64(value)` on amd64, including what it does with NaN, negatives and overflow."""
    if value < _TWO_63:  # False for NaN.
        if value <= -_TWO_63:
            return _UINT64_OVERFLOW
        return int(value) % (1 << 64)
    rest = value - _TWO_63
    if rest != rest or rest >= _TWO_63:
        return _UINT64_OVERFLOW
    return int(rest) | _UINT64_OVERFLOW


def parse_go_float(token: str) -> float | None:
    """expfmt's parseFloat: `strconv.ParseFloat(token, 64)`, no hex, `p` or `_`; None if invalid."""
    if not token.strip(_DECIMAL_CHARACTERS):
        # Only digits, point, exponent and signs: Python's float() reads exactly what Go
        # reads here (its other spellings need letters, `_` or blanks), but rounds what is
        # out of range to infinity where Go reports ErrRange.
        try:
            value = float(token)
        except ValueError:
            return None
        return None if math.isinf(value) else value
    if _GO_FLOAT.fullmatch(token) is None:
        return None
    value = float(token)
    if math.isinf(value) and _INFINITE_SPELLING.match(token) is None:
        return None  # Out of range: Go reports ErrRange where Python rounds to infinity.
    return value


def parse_go_int64(token: str) -> int | None:
    """`strconv.ParseInt(token, 10, 64)`; None if invalid or out of range."""
    if _GO_INT.fullmatch(token) is None:
        return None
    value = int(token)
    if not -(1 << 63) <= value < (1 << 63):
        return None
    return value


def _escape_rune(char: str, quote: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # A byte that was not UTF-8 (surrogateescape).
    if char == quote or char == "\\":
        return "\\" + char
    if char.isprintable():
        return char
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_NAMED_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """`strconv.Quote` (Go's `%q` of a string); undecodable bytes are lone surrogates here."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + "".join(_escape_rune(char, '"') for char in text) + '"'


def go_quote_byte(byte: int) -> str:
    """Go's `%q` of a `byte`: the byte as a rune, in single quotes."""
    return "'" + _escape_rune(chr(byte), "'") + "'"


def go_char(byte: int) -> str:
    """Go's `%c` of a `byte`: the rune with that code point."""
    return chr(byte)


def proto_text_quote(text: str) -> str:
    """A string as golang/protobuf's legacy text format writes it: bytes, octal beyond ASCII."""
    raw = text.encode("utf-8", "surrogateescape")
    if raw.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for byte in raw:
        if byte == 0x0A:
            out.append("\\n")
        elif byte == 0x0D:
            out.append("\\r")
        elif byte == 0x09:
            out.append("\\t")
        elif byte == 0x22:
            out.append('\\"')
        elif byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    out.append('"')
    return "".join(out)


def proto_text_float(value: float) -> str:
    """A double as golang/protobuf's legacy text format writes it (`inf`, `nan`, else `%v`)."""
    if value != value:
        return "nan"
    if value == math.inf:
        return "inf"
    if value == -math.inf:
        return "-inf"
    return format_go_value(value)


def is_valid_utf8(text: str) -> bool:
    """False when `text` carries undecodable bytes (lone surrogates from surrogateescape)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
