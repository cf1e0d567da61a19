"""Charts as geometry for inline SVG: sparklines, time series and duration charts.

Pure. Coordinates are percentages of the plot area (0..100, y growing downwards), so
one SVG with `viewBox="0 0 100 100" preserveAspectRatio="none"` draws the lines at any
width, while dots and axis labels are HTML positioned in percent: they stay round and
readable on a phone as on a laptop.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    status: str
    title: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    """Percent along the axis."""
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    """What a template needs to draw one chart; `empty` when there is nothing to draw."""

    label: str
    line: str = ""
    area: str = ""
    dots: tuple[Dot, ...] = ()
    y_ticks: tuple[Tick, ...] = ()
    x_ticks: tuple[Tick, ...] = ()
    empty: bool = False
    css: str = ""
    """A class naming the series (series-progress, series-cpu, ...), for its colour."""


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above value (axis maximum)."""
    if value <= 0 or math.isnan(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10 * power


def _path(points: Sequence[tuple[float, float] | None]) -> str:
    """An SVG path through the points; None breaks the line. Four significant digits:
    a tenth of a percent of the plot is finer than a pixel, and pages stay small."""
    parts: list[str] = []
    command = "M"
    for point in points:
        if point is None:
            command = "M"
            continue
        parts.append(f"{command}{point[0]:.4g} {point[1]:.4g}")
        command = "L"
    return " ".join(parts)


def _y_ticks(top: float, y_format: Callable[[float], str]) -> tuple[Tick, ...]:
    """Ticks at 0, half and the top of the axis; zero reads 0 whatever the unit."""
    return (Tick(100.0, "0"), Tick(50.0, y_format(top / 2)), Tick(0.0, y_format(top)))


SPARKLINE_CACHE_SIZE = 4096
"""Sparklines kept built: a job's changes only when one of its runs ends, and a jobs page
draws a thousand."""


@functools.lru_cache(maxsize=SPARKLINE_CACHE_SIZE)
def sparkline(values: tuple[tuple[float | None, str], ...]) -> Chart:
    """Recent durations, oldest first, one point each; failed runs are marked with a dot.

    `values` are (duration or None, status). Heights are relative to the longest.
    """
    known = [v for v, _ in values if v is not None]
    if not known:
        return Chart("no finished runs yet", empty=True)
    top = max(known) or 1.0
    count = len(values)
    points: list[tuple[float, float] | None] = []
    dots: list[Dot] = []
    for index, (value, status) in enumerate(values):
        x = 50.0 if count == 1 else 100.0 * index / (count - 1)
        if value is None:
            if status in ("failed", "lost"):
                dots.append(Dot(round(x, 2), 90.0, status, status))
            continue
        y = 90.0 - 80.0 * value / top
        points.append((x, y))
        if status != "succeeded" or len(known) == 1:  # a lone run is a dot, not a line
            dots.append(Dot(round(x, 2), round(y, 2), status, status))
    return Chart(
        f"{count} recent runs, longest {max(known):.0f} s",
        line=_path(points),
        dots=tuple(dots),
    )


def time_series(
    points: Sequence[tuple[float, float | None]],
    label: str,
    y_format: Callable[[float], str],
    x_format: Callable[[float], str],
    y_max: float | None = None,
    css: str = "",
) -> Chart:
    """A line over time, with a filled area, three y ticks and the time range as x ticks."""
    known = [(t, v) for t, v in points if v is not None and not math.isnan(v)]
    if len(known) < 2:
        return Chart(label, empty=True, css=css)
    start, end = known[0][0], known[-1][0]
    span = (end - start) or 1.0
    top = y_max if y_max is not None else _nice_ceiling(max(v for _, v in known))
    top = top or 1.0
    line_points: list[tuple[float, float] | None] = []
    for t, v in points:
        if v is None or math.isnan(v):
            line_points.append(None)
            continue
        line_points.append((100.0 * (t - start) / span, 100.0 - 100.0 * min(v, top) / top))
    line = _path(line_points)
    first = next(p for p in line_points if p is not None)
    last = next(p for p in reversed(line_points) if p is not None)
    area = f"{line} L{last[0]:.4g} 100 L{first[0]:.4g} 100 Z"
    return Chart(
        label,
        line=line,
        area=area,
        y_ticks=_y_ticks(top, y_format),
        x_ticks=(Tick(0.0, x_format(start)), Tick(100.0, x_format(end))),
        css=css,
    )


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One run on a duration chart."""

    run_id: str
    status: str
    started_at: float
    duration: float | None
    title: str
    href: str
    series: str = ""
    """Runs of one series (a job's label set) are joined by a line."""


def duration_chart(
    runs: Sequence[RunPoint],
    y_format: Callable[[float], str],
    x_format: Callable[[float], str],
) -> Chart:
    """Durations of runs over their start times: a line through succeeded runs, a dot per
    run coloured by its status (a run without a duration sits on the axis)."""
    ordered = sorted(runs, key=lambda run: run.started_at)
    timed = [run.duration for run in ordered if run.duration is not None]
    if not ordered or not timed:
        return Chart("no finished runs with a duration yet", empty=True, css="series-duration")
    start, end = ordered[0].started_at, ordered[-1].started_at
    span = (end - start) or 1.0
    top = _nice_ceiling(max(timed))

    def position(run: RunPoint) -> tuple[float, float]:
        x = 50.0 if len(ordered) == 1 else 100.0 * (run.started_at - start) / span
        y = 100.0 if run.duration is None else 100.0 - 100.0 * run.duration / top
        return x, y

    # One line per label set: the runs of db1 and of db2 are not one series.
    series: dict[str, list[tuple[float, float]]] = {}
    for run in ordered:
        if run.status == "succeeded" and run.duration is not None:
            series.setdefault(run.series, []).append(position(run))
    dots = tuple(Dot(*position(run), run.status, run.title, run.href) for run in ordered)
    return Chart(
        f"duration of the last {len(ordered)} runs",
        line=" ".join(_path(points) for points in series.values()),
        dots=dots,
        y_ticks=_y_ticks(top, y_format),
        x_ticks=(Tick(0.0, x_format(start)), Tick(100.0, x_format(end))),
        css="series-duration",
    )
