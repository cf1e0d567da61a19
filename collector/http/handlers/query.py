"""Reading query parameters, with a 400 naming the parameter when one is wrong."""

from __future__ import annotations

from aiohttp import web

from batchgate.collector.core.api_json import decode_cursor, parse_time
from batchgate.collector.core.events import LABEL_NAME
from batchgate.collector.core.model import JobKey
from batchgate.collector.http.errors import field_error
from batchgate.collector.settings import parse_duration

PERIODS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}


def integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_error(name, f"{raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise field_error(name, f"must be between {low} and {high}")
    return value


def timestamp(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise field_error(name, "must be unix seconds or an RFC 3339 time") from None


def labels(request: web.Request) -> dict[str, str]:
    """Label filters, given as repeated `label=name=value`."""
    wanted = {}
    for raw in request.query.getall("label", []):
        name, sep, value = raw.partition("=")
        if not sep or not LABEL_NAME.match(name):
            raise field_error("label", f"{raw!r} is not name=value")
        wanted[name] = value
    return wanted


def statuses(request: web.Request, allowed: tuple[str, ...]) -> list[str] | None:
    raw = request.query.getall("status", [])
    if not raw:
        return None
    chosen = [s for value in raw for s in value.split(",") if s]
    for status in chosen:
        if status not in allowed:
            raise field_error("status", f"{status!r} is not one of {', '.join(allowed)}")
    return chosen


def cursor(request: web.Request, *kinds: type | tuple[type, ...]) -> list[object] | None:
    """The `cursor` parameter's parts, one of each of `kinds` (as `isinstance` takes them);
    a 400 for a cursor this endpoint did not return."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    try:
        parts = decode_cursor(raw)
    except ValueError as error:
        raise field_error("cursor", str(error)) from None
    if len(parts) != len(kinds) or not all(map(isinstance, parts, kinds)):
        raise field_error("cursor", "not a cursor returned by this endpoint")
    return parts


def matches_labels(key: JobKey, wanted: dict[str, str]) -> bool:
    if not wanted:
        return True
    have = dict(key.labels)
    return all(have.get(name) == value for name, value in wanted.items())


MAX_PERIOD = 100 * 365 * 86400.0
"""The longest period a trend may cover: far beyond any history, and short enough that its
start is a date (a period of 1e30 s made one no clock can write)."""


def period(request: web.Request) -> tuple[str, float]:
    """`period` (default 24h): one of PERIODS or a duration, and its seconds."""
    period = request.query.get("period", "24h")
    if period in PERIODS:
        return period, PERIODS[period]
    try:
        seconds = parse_duration(period)
    except ValueError:
        raise field_error("period", f"must be one of {', '.join(PERIODS)} or a duration") from None
    if not 0 < seconds <= MAX_PERIOD:
        raise field_error(
            "period", f"must be longer than 0 seconds and at most 100 years, not {period!r}"
        )
    return period, seconds
