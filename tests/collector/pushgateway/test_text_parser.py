"""Bodies written by real clients parse into the families the Pushgateway would store."""

from __future__ import annotations

import math

import pytest

from batchgate.collector.pushgateway import TextParseError, parse_text
from batchgate.collector.pushgateway.model import COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED

from .client_bodies import ODD_VALUES, python_client_body


def test_prometheus_client_counters_are_counters_named_total() -> None:
    total = parse_text(python_client_body())["jobs_processed_total"]
    assert (total.type, total.help) == (COUNTER, "Processed jobs.")
    assert [metric.labels for metric in total.metrics] == [[("queue", v)] for v in ODD_VALUES]
    assert [metric.counter.value for metric in total.metrics if metric.counter] == [
        0.5,
        1.5,
        2.5,
        3.5,
        4.5,
    ]


def test_a_type_for_a_name_without_samples_leaves_the_samples_untyped() -> None:
    # Older clients wrote `# TYPE x counter` over `x_total` samples: expfmt drops the empty
    # `x` family and stores `x_total` untyped, and so does the Pushgateway.
    families = parse_text(b"# HELP x Done.\n# TYPE x counter\nx_total 3\n")
    assert list(families) == ["x_total"]
    assert (families["x_total"].type, families["x_total"].help) == (UNTYPED, None)


def test_prometheus_client_gauges_keep_help_and_values() -> None:
    families = parse_text(python_client_body())
    gauge = families["last_run_seconds"]
    assert (gauge.type, gauge.help) == (GAUGE, "Last run, in seconds.")
    assert gauge.metrics[0].gauge is not None
    assert gauge.metrics[0].gauge.value == 1.5e-7
    minus = families["negative_infinity"].metrics[0].gauge
    assert minus is not None
    assert minus.value == -math.inf


def test_prometheus_client_histograms_are_assembled_per_label_set() -> None:
    family = parse_text(python_client_body())["duration_seconds"]
    assert family.type == HISTOGRAM
    assert [metric.labels for metric in family.metrics] == [
        [("stage", "load")],
        [("stage", "save")],
    ]
    load = family.metrics[0].histogram
    assert load is not None
    assert [(b.upper_bound, b.cumulative_count) for b in load.buckets] == [
        (0.1, 1),
        (1.0, 1),
        (10.0, 2),
        (math.inf, 2),
    ]
    assert (load.sample_count, load.sample_sum) == (2, 5.05)


def test_prometheus_client_summaries_have_count_and_sum() -> None:
    family = parse_text(python_client_body())["payload_bytes"]
    summary = family.metrics[0].summary
    assert family.type == SUMMARY
    assert summary is not None
    assert (summary.sample_count, summary.sample_sum, summary.quantiles) == (1, 100.0, [])


def test_created_series_are_their_own_gauges() -> None:
    families = parse_text(python_client_body())
    assert families["duration_seconds_created"].type == GAUGE
    assert families["jobs_processed_created"].type == GAUGE


def test_escapes_in_label_values_and_help_are_read() -> None:
    families = parse_text(b'# HELP m A \\\\ backslash\\nand a newline\nm{v="q\\"b\\\\s\\nn"} 1\n')
    assert families["m"].help == "A \\ backslash\nand a newline"
    assert families["m"].metrics[0].labels == [("v", 'q"b\\s\nn')]


def test_summary_lines_join_the_summary_of_their_labels() -> None:
    family = parse_text(
        b"# TYPE s summary\n"
        b's{a="1",quantile="0.5"} 1\ns{quantile="0.9",a="1"} 2\ns_sum{a="1"} 3\ns_count{a="1"} 4\n'
        b's{a="2",quantile="0.5"} 5\n'
    )["s"]
    first, second = (metric.summary for metric in family.metrics)
    assert first is not None
    assert second is not None
    assert [(q.quantile, q.value) for q in first.quantiles] == [(0.5, 1.0), (0.9, 2.0)]
    assert (first.sample_sum, first.sample_count) == (3.0, 4)
    assert (second.sample_sum, second.sample_count) == (None, None)


def test_counter_type_applies_to_samples_of_the_same_name() -> None:
    family = parse_text(b"# TYPE c counter\nc 3\n")["c"]
    assert family.type == COUNTER
    assert family.metrics[0].counter is not None


def test_blank_and_comment_lines_are_skipped() -> None:
    assert list(parse_text(b"\n# a comment\n   \n#\nm 1\n\t\n")) == ["m"]


def test_the_first_error_is_reported_with_its_line() -> None:
    with pytest.raises(TextParseError) as refused:
        parse_text(b"a 1\nb 2\nc{ 3\nd x\n")
    assert refused.value.line == 3
    assert refused.value.reason == 'invalid label name for metric "c"'


def test_timestamps_are_parsed_so_that_the_push_can_be_refused() -> None:
    assert parse_text(b"m 1 1700000000000\n")["m"].metrics[0].timestamp_ms == 1700000000000
