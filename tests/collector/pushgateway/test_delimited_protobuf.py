"""Delimited protobuf pushes decode as the Pushgateway decodes them, and encode as Go does."""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import ProtobufParseError, encode_delimited, parse_delimited
from batchgate.collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    Bucket,
    Histogram,
    Metric,
    MetricFamily,
    NativeHistogram,
    Value,
)

from .client_bodies import go_client_body, go_client_families

# A stream written by Go's client_model encoder, from prometheus/common's expfmt tests.
GO_WRITTEN = (
    b'\x8f\x01\n\rrequest_count\x12\x12Number of requests\x18\x00"0\n#\n\x0fsome_label_name'
    b'\x12\x10some_label_value\x1a\t\t\x00\x00\x00\x00\x00\x00E\xc0"6\n)\n\x12another_label_name'
    b"\x12\x13another_label_value\x1a\t\t\x00\x00\x00\x00\x00\x00U@"
)
REQUEST_COUNT = MetricFamily(
    "request_count",
    "Number of requests",
    COUNTER,
    [
        Metric([("some_label_name", "some_label_value")], counter=Value(-42.0)),
        Metric([("another_label_name", "another_label_value")], counter=Value(84.0)),
    ],
)


def test_it_reads_a_stream_written_by_go() -> None:
    assert parse_delimited(GO_WRITTEN) == {"request_count": REQUEST_COUNT}


def test_it_writes_what_go_writes() -> None:
    assert encode_delimited([REQUEST_COUNT]) == GO_WRITTEN


def test_a_go_client_push_round_trips() -> None:
    families = parse_delimited(go_client_body())
    assert list(families.values()) == go_client_families()


def test_a_gauge_is_written_field_by_field() -> None:
    family = MetricFamily("g", "h", GAUGE, [Metric([("a", "b")], gauge=Value(1.0))])
    message = (
        b"\n\x01g"  # name
        b"\x12\x01h"  # help
        b"\x18\x01"  # type GAUGE
        b'"\x13'  # metric, 19 bytes
        b"\n\x06\n\x01a\x12\x01b"  # label a="b"
        b"\x12\t\t\x00\x00\x00\x00\x00\x00\xf0?"  # gauge value 1.0
    )
    assert encode_delimited([family]) == bytes([len(message)]) + message


def test_the_last_family_of_a_name_wins() -> None:
    first = MetricFamily("x", None, GAUGE, [Metric([], gauge=Value(1.0))])
    second = MetricFamily("x", None, COUNTER, [Metric([], counter=Value(2.0))])
    assert parse_delimited(encode_delimited([first, second])) == {"x": second}


def test_unknown_fields_and_wrong_wire_types_are_skipped() -> None:
    message = (
        b"\n\x01g"
        b"\x08\x05"  # field 1 as a varint: not the name, skipped
        b"\xa8\x06\x07"  # field 101, unknown
        b"\x1b\x08\x01\x0c"  # field 3 as a group: skipped
        b"\x18\x01"
    )
    assert parse_delimited(bytes([len(message)]) + message) == {
        "g": MetricFamily("g", None, GAUGE, [])
    }


def test_a_message_field_given_twice_is_merged() -> None:
    metric = b'"\x0d' + b"\x12\x00" + b"\x12\x09\x09" + b"\x00" * 6 + b"\xf0?"
    message = b"\n\x01g\x18\x01" + metric
    family = parse_delimited(bytes([len(message)]) + message)["g"]
    assert family.metrics == [Metric([], gauge=Value(1.0))]


def test_unknown_type_numbers_are_kept_for_the_check_to_refuse() -> None:
    message = b"\n\x01g\x18\x63"
    assert parse_delimited(bytes([len(message)]) + message)["g"].type == 99


def test_native_histogram_fields_are_carried() -> None:
    native = NativeHistogram(3, 0.001, 2, None, [(0, 2)], [1, -1], [], [(-1, 1)], [], [2.5])
    family = MetricFamily(
        "h",
        None,
        HISTOGRAM,
        [Metric([], histogram=Histogram(3, None, 1.5, [Bucket(1, None, 1.0)], native))],
    )
    assert parse_delimited(encode_delimited([family])) == {"h": family}


@pytest.mark.parametrize(
    "body",
    [b"", b"\x85", b"\x05", b"\x00", b"\x00\x85"],
    ids=["empty", "cut prefix", "prefix only", "empty message", "empty message, cut prefix"],
)
def test_a_stream_may_end_anywhere_between_messages(body: bytes) -> None:
    families = parse_delimited(body)
    assert set(families) <= {""}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x05\x0a\x01", "unexpected EOF"),
        (b"\xff\xff\xff\xff\xff\x01", "invalid varint32 encountered"),
        (b"\x02\x00\x00", "proto: io_prometheus_client.MetricFamily: illegal tag 0 (wire type 0)"),
        (b"\x02\x0f\x00", "proto: can't skip unknown wire type 7"),
    ],
)
def test_a_broken_stream_fails_with_go_s_message(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufParseError) as refused:
        parse_delimited(body)
    assert refused.value.message == message


def test_a_read_error_after_the_data_is_reported_between_messages_too() -> None:
    with pytest.raises(ProtobufParseError, match="gzip: invalid checksum"):
        parse_delimited(GO_WRITTEN, stream_error="gzip: invalid checksum")
