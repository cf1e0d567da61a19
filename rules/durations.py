"""Durations (`30s`, `10m`, `2h`, `1d`, `1h30m`), byte sizes and ratios, parsed and formatted."""

from __future__ import annotations

import math
import re
from typing import Final

_DURATION_UNITS: Final = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
# Prometheus' duration syntax: units from largest to smallest, each at most once.
_DURATION: Final = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_DURATION_ORDER: Final = ("y", "w", "d", "h", "m", "s", "ms")

_SIZE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `90s`, `10m`, `1h30m` or `1d`; raises ValueError."""
    text = text.strip()
    if text == "0":
        return 0.0
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d"
        )
    total = 0.0
    for amount, unit in zip(match.groups(), _DURATION_ORDER, strict=True):
        if amount is not None:
            total += int(amount) * _DURATION_UNITS[unit]
    return total


def format_duration(seconds: float) -> str:
    """A short human form: `45s`, `12m`, `1h 5m`, `2d 3h`. Negative and NaN read as `0s`."""
    if not seconds > 0 or math.isinf(seconds):
        return "0s" if not math.isinf(seconds) else "forever"
    if seconds < 1:
        return f"{seconds:.3g}s"
    if seconds < 10:  # 3.9 s is not "3s"
        return f"{seconds:.1f}".removesuffix(".0") + "s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{amount}{unit}" for amount, unit in parts if amount]
    return " ".join(shown[:2])


def parse_size(text: str) -> float:
    """Bytes in `512MiB`, `2GB`, `1.5GiB` or a bare number; raises ValueError."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid size {text!r}: use a number and a unit, e.g. 512MiB or 2GB")
    number, unit = match.groups()
    return float(number) * _SIZE_UNITS[(unit or "B").lower()]


def format_bytes(value: float) -> str:
    """A short binary form: `512 B`, `1.5 KiB`, `2.0 GiB`."""
    if not math.isfinite(value):
        return str(value)
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def parse_ratio(text: str) -> float:
    """A fraction from `0.25` or `25%`; raises ValueError."""
    text = text.strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    except ValueError:
        raise ValueError(
            f"invalid ratio {text!r}: use a fraction (0.25) or a percentage (25%)"
        ) from None
