"""The jinja2 environment of the dashboard: its templates, filters and globals."""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import jinja2
import markupsafe

from batchgate.collector import __version__
from batchgate.collector.core.api_json import rfc3339
from batchgate.collector.http.web import assets, charts, formatting


def _timestamp(value: float | str | None) -> float | None:
    """Unix seconds from what pages hold: unix seconds, an RFC 3339 string, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(value).timestamp()


def _ago(value: float | str | None, now: float) -> str:
    return formatting.relative(_timestamp(value), now)


def _since(value: float | str | None, now: float) -> str:
    """How long ago, as a duration (`16 min`)."""
    timestamp = _timestamp(value)
    return formatting.duration(None if timestamp is None else max(0.0, now - timestamp))


def _clock(value: float | str | None) -> str:
    return formatting.clock_time(_timestamp(value))


def _iso(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return rfc3339(value) or ""


@lru_cache(maxsize=charts.SPARKLINE_CACHE_SIZE)
def _sparkline(chart: charts.Chart) -> markupsafe.Markup:
    """A sparkline's markup (the `sparkline` macro), made once per chart: a jobs page shows
    a thousand, most of them unchanged since the last time it was drawn."""
    macros = environment().get_template("macros.html").module
    return markupsafe.Markup(macros.sparkline(chart))  # type: ignore[attr-defined]


@cache
def environment() -> jinja2.Environment:
    """Built once: templates are package data and do not change while the server runs."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("batchgate.collector.http.web", "templates"),
        autoescape=jinja2.select_autoescape(("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        ago=_ago,
        since=_since,
        clock=_clock,
        iso=_iso,
        duration=formatting.duration,
        number=formatting.number,
        size=formatting.size,
        percent=formatting.percent,
        sparkline=_sparkline,
    )
    env.globals.update(static=assets.url, version=__version__)
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(context)
