"""Chart geometry: percentages of the plot area, y growing downwards."""

from __future__ import annotations

from batchgate.collector.http.web import charts


def test_a_sparkline_scales_to_the_longest_run_and_marks_failures() -> None:
    chart = charts.sparkline(((10.0, "succeeded"), (20.0, "failed"), (None, "lost")))
    assert chart.line == "M0 50 L50 10"
    assert [(d.x, d.y, d.status) for d in chart.dots] == [
        (50.0, 10.0, "failed"),
        (100.0, 90.0, "lost"),
    ]
    assert charts.sparkline(()).empty


def test_a_time_series_needs_two_points_and_spans_its_time_range() -> None:
    assert charts.time_series([(0.0, 1.0)], "x", str, str).empty
    chart = charts.time_series([(0.0, 0.0), (5.0, None), (10.0, 80.0)], "x", str, str)
    # A missing value breaks the line; the axis tops out at 100, a round number.
    assert chart.line == "M0 100 M100 20"
    assert chart.area.endswith("L100 100 L0 100 Z")
    assert [t.text for t in chart.y_ticks] == ["0", "50.0", "100.0"]


def test_a_duration_chart_draws_one_line_per_label_set() -> None:
    runs = [
        charts.RunPoint(f"r{i}", "succeeded", float(i), 10.0 * (i + 1), "", "", f"s{i % 2}")
        for i in range(4)
    ]
    chart = charts.duration_chart(runs, str, str)
    assert chart.line.count("M") == 2
    assert len(chart.dots) == 4
