"""Numbers, durations and times written for people. Pure: `now` is passed in."""

from __future__ import annotations

import math
import time


def duration(seconds: float | None) -> str:
    """`850 ms`, `42 s`, `3 min 12 s`, `1 h 05 min`, `2 d 3 h`; an em dash for None."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def relative(timestamp: float | None, now: float) -> str:
    """`just now`, `12 s ago`, `3 min ago`, `2 h ago`, `in 5 min`; an em dash for None."""
    if timestamp is None:
        return "—"
    delta = now - timestamp
    future = delta < 0
    delta = abs(delta)
    if delta < 2:
        return "just now"
    # Past times count whole units gone by; future ones the nearest (a 4 h silence that
    # started a second ago ends "in 4 h", not "in 3 h").
    whole = round if future else math.floor
    if delta < 60:
        text = f"{whole(delta)} s"
    elif delta < 3600:
        text = f"{whole(delta / 60)} min"
    elif delta < 86400:
        text = f"{whole(delta / 3600)} h"
    else:
        text = f"{whole(delta / 86400)} d"
    return f"in {text}" if future else f"{text} ago"


def clock_time(timestamp: float | None) -> str:
    """`2024-05-01 02:00:03 UTC`: the absolute time, shown on hover next to relative times."""
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def short_time(timestamp: float | None) -> str:
    """`05-01 02:00`: an axis label."""
    if timestamp is None:
        return ""
    return time.strftime("%m-%d %H:%M", time.gmtime(timestamp))


def number(value: float | None) -> str:
    """`1,234`, `1.5k`, `2.3M` for counts; `0.25` for small fractions."""
    if value is None or math.isnan(value):
        return "—"
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:.1f}G"
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.1f}k"
    if value == int(value):
        return f"{int(value):,}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def size(value: float | None) -> str:
    """Bytes as `512 B`, `3.2 MiB`, `1.1 GiB`."""
    if value is None or math.isnan(value):
        return "—"
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    scaled = float(value)
    for unit in units:
        if abs(scaled) < 1024 or unit == units[-1]:
            return (
                f"{scaled:.0f} {unit}" if unit == "B" or scaled >= 100 else f"{scaled:.1f} {unit}"
            )
        scaled /= 1024
    raise AssertionError("unreachable")


def percent(ratio: float | None) -> str:
    """A 0..1 ratio as `42%` (one decimal below 10%)."""
    if ratio is None or math.isnan(ratio):
        return "—"
    value = ratio * 100
    return f"{value:.1f}%" if 0 < value < 10 else f"{value:.0f}%"
