"""Reading delimited `io.prometheus.client.MetricFamily` protobuf, the Go client's push format.

Hand-written wire decoding (the messages are small and fixed), with the semantics the
Pushgateway gets from pbutil.ReadDelimited and protobuf-go: a stream of varint-length-prefixed
messages; a stream that ends inside a length prefix, or right after one, simply ends; a
message cut short is "unexpected EOF"; unknown fields (and known fields with another wire
type) are skipped; a repeated message field merges; proto2 enums reject unknown values (the
type stays unset); strings are not checked for UTF-8. Families with the same name: the last
one wins. Native-histogram fields are carried but, as in the Pushgateway 1.5's text
exposition, never shown.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final

from batchgate.collector.pushgateway.errors import ProtobufParseError
from batchgate.collector.pushgateway.model import (
    Bucket,
    Exemplar,
    Histogram,
    Metric,
    MetricFamily,
    NativeHistogram,
    Quantile,
    Summary,
    Value,
)

CONTENT_TYPE: Final = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

VARINT: Final = 0
I64: Final = 1
LEN: Final = 2
START_GROUP: Final = 3
END_GROUP: Final = 4
I32: Final = 5

_MAX_HEADER_BYTES: Final = 5
"""pbutil reads a varint32 length prefix: at most binary.MaxVarintLen32 bytes."""

_DOUBLE = struct.Struct("<d")
_UNEXPECTED_EOF: Final = "unexpected EOF"

Field = tuple[int, int, object]


class _WireError(Exception):
    def __init__(self, message: str = _UNEXPECTED_EOF) -> None:
        super().__init__(message)
        self.message = message


def parse_delimited(body: bytes, stream_error: str | None = None) -> dict[str, MetricFamily]:
    """The families in a delimited stream, keyed by name, or ProtobufParseError.

    `stream_error` is a read error that followed `body` (a broken gzip stream): pbutil
    reports it wherever the reading reaches it, even between two messages.
    """
    families: dict[str, MetricFamily] = {}
    position = 0
    size = len(body)
    while position < size or stream_error is not None:
        if position >= size:
            raise ProtobufParseError(stream_error or "")
        length = 0
        shift = 0
        header_bytes = 0
        while True:
            if header_bytes >= _MAX_HEADER_BYTES:
                raise ProtobufParseError("invalid varint32 encountered")
            if position >= size:
                if stream_error is not None:
                    raise ProtobufParseError(stream_error)
                return families  # EOF inside the prefix: pbutil returns io.EOF, a clean end.
            byte = body[position]
            position += 1
            header_bytes += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        if size - position < length:
            if stream_error is not None:
                raise ProtobufParseError(stream_error)
            if position >= size:
                return families  # io.ReadFull read nothing: io.EOF again, a clean end.
            raise ProtobufParseError(_UNEXPECTED_EOF)
        message = body[position : position + length]
        position += length
        try:
            family = _decode_family(message)
        except _WireError as error:
            raise ProtobufParseError(error.message) from None
        families[family.name] = family
    return families


def _fields(data: bytes, type_name: str) -> Iterator[Field]:
    """(field number, wire type, value) per field, with golang/protobuf 1.3's errors.

    VARINT values are ints, LEN values bytes, I64 and I32 values their raw bytes; groups are
    skipped. A field of a known number but another wire type is passed on too: callers
    ignore what they do not expect, which is what 1.3 does with such "unknown" fields.
    """
    position = 0
    size = len(data)
    while position < size:
        tag, position = _varint(data, position)
        number = tag >> 3
        wire_type = tag & 7
        if number == 0:
            raise _WireError(
                f"proto: io_prometheus_client.{type_name}: illegal tag 0 (wire type {wire_type})"
            )
        value: object
        if wire_type == VARINT:
            value, position = _varint(data, position)
        elif wire_type in (I64, I32):
            width = 8 if wire_type == I64 else 4
            if size - position < width:
                raise _WireError
            value = data[position : position + width]
            position += width
        elif wire_type == LEN:
            length, position = _varint(data, position)
            if size - position < length:
                raise _WireError
            value = data[position : position + length]
            position += length
        elif wire_type == START_GROUP:
            position = _end_of_group(data, position)
            continue
        else:
            raise _WireError(f"proto: can't skip unknown wire type {wire_type}")
        yield number, wire_type, value


def _end_of_group(data: bytes, position: int) -> int:
    """golang/protobuf 1.3's findEndGroup: the first unpaired end-group tag, numbers unchecked."""
    depth = 1
    size = len(data)
    while True:
        tag, position = _varint(data, position)
        wire_type = tag & 7
        if wire_type == VARINT:
            _, position = _varint(data, position)
        elif wire_type in (I64, I32):
            position += 8 if wire_type == I64 else 4
            if position > size:
                raise _WireError
        elif wire_type == LEN:
            length, position = _varint(data, position)
            if size - position < length:
                raise _WireError
            position += length
        elif wire_type == START_GROUP:
            depth += 1
        elif wire_type == END_GROUP:
            depth -= 1
            if depth == 0:
                return position
        else:
            raise _WireError


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """A varint of at most 10 bytes (the 10th below 2); anything else is "unexpected EOF"."""
    result = 0
    shift = 0
    size = len(data)
    for index in range(10):
        if position >= size:
            raise _WireError
        byte = data[position]
        position += 1
        if index == 9 and byte > 1:
            raise _WireError
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
    raise _WireError


def _text(value: object) -> str:
    assert isinstance(value, bytes)
    return value.decode("utf-8", "surrogateescape")


def _double(value: object) -> float:
    assert isinstance(value, bytes)
    result: float = _DOUBLE.unpack(value)[0]
    return result


def _int64(value: object) -> int:
    assert isinstance(value, int)
    return value - (1 << 64) if value >= 1 << 63 else value


def _int32(value: object) -> int:
    assert isinstance(value, int)
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _uint32(value: object) -> int:
    assert isinstance(value, int)
    return value & 0xFFFFFFFF


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _decode_family(data: bytes) -> MetricFamily:
    family = MetricFamily("")
    for number, wire_type, value in _fields(data, "MetricFamily"):
        if number == 1 and wire_type == LEN:
            family.name = _text(value)
        elif number == 2 and wire_type == LEN:
            family.help = _text(value)
        elif number == 3 and wire_type == VARINT:
            family.type = _int32(value)  # 1.3 keeps enum values it does not know.
        elif number == 4 and wire_type == LEN:
            assert isinstance(value, bytes)
            family.metrics.append(_decode_metric(value, Metric()))
    return family


def _decode_metric(data: bytes, metric: Metric) -> Metric:
    for number, wire_type, value in _fields(data, "Metric"):
        if wire_type == LEN:
            assert isinstance(value, bytes)
            if number == 1:
                metric.labels.append(_decode_label(value, "LabelPair"))
            elif number == 2:
                metric.gauge = _decode_value(value, metric.gauge or Value(), "Gauge")
            elif number == 3:
                metric.counter = _decode_value(value, metric.counter or Value(), "Counter")
            elif number == 4:
                metric.summary = _decode_summary(value, metric.summary or Summary())
            elif number == 5:
                metric.untyped = _decode_value(value, metric.untyped or Value(), "Untyped")
            elif number == 7:
                metric.histogram = _decode_histogram(value, metric.histogram or Histogram())
        elif number == 6 and wire_type == VARINT:
            metric.timestamp_ms = _int64(value)
    return metric


def _decode_label(data: bytes, type_name: str) -> tuple[str, str]:
    name = ""
    label_value = ""
    for number, wire_type, value in _fields(data, type_name):
        if wire_type == LEN and number == 1:
            name = _text(value)
        elif wire_type == LEN and number == 2:
            label_value = _text(value)
    return name, label_value


def _decode_value(data: bytes, message: Value, type_name: str) -> Value:
    for number, wire_type, value in _fields(data, type_name):
        if number == 1 and wire_type == I64:
            message.value = _double(value)
        elif number == 2 and wire_type == LEN and type_name == "Counter":
            assert isinstance(value, bytes)
            message.exemplar = _decode_exemplar(value, message.exemplar or Exemplar())
    return message


def _decode_exemplar(data: bytes, exemplar: Exemplar) -> Exemplar:
    for number, wire_type, value in _fields(data, "Exemplar"):
        if number == 1 and wire_type == LEN:
            assert isinstance(value, bytes)
            exemplar.labels.append(_decode_label(value, "LabelPair"))
        elif number == 2 and wire_type == I64:
            exemplar.value = _double(value)
        elif number == 3 and wire_type == LEN:
            assert isinstance(value, bytes)
            seconds, nanos = exemplar.timestamp or (None, None)
            # The timestamp's errors name Go's `timestamp.Timestamp`, not io_prometheus_client.
            try:
                for inner_number, inner_type, inner in _fields(value, "Timestamp"):
                    if inner_number == 1 and inner_type == VARINT:
                        seconds = _int64(inner)
                    elif inner_number == 2 and inner_type == VARINT:
                        nanos = _int32(inner)
            except _WireError as error:
                raise _WireError(
                    error.message.replace("io_prometheus_client.Timestamp", "timestamp.Timestamp")
                ) from None
            exemplar.timestamp = (seconds, nanos)
    return exemplar


def _decode_summary(data: bytes, summary: Summary) -> Summary:
    for number, wire_type, value in _fields(data, "Summary"):
        if number == 1 and wire_type == VARINT:
            assert isinstance(value, int)
            summary.sample_count = value
        elif number == 2 and wire_type == I64:
            summary.sample_sum = _double(value)
        elif number == 3 and wire_type == LEN:
            quantile = Quantile()
            assert isinstance(value, bytes)
            for inner_number, inner_type, inner in _fields(value, "Quantile"):
                if inner_number == 1 and inner_type == I64:
                    quantile.quantile = _double(inner)
                elif inner_number == 2 and inner_type == I64:
                    quantile.value = _double(inner)
            summary.quantiles.append(quantile)
    return summary


def _decode_histogram(data: bytes, histogram: Histogram) -> Histogram:
    for number, wire_type, value in _fields(data, "Histogram"):
        if number == 1 and wire_type == VARINT:
            assert isinstance(value, int)
            histogram.sample_count = value
        elif number == 4 and wire_type == I64:
            histogram.sample_count_float = _double(value)
        elif number == 2 and wire_type == I64:
            histogram.sample_sum = _double(value)
        elif number == 3 and wire_type == LEN:
            assert isinstance(value, bytes)
            histogram.buckets.append(_decode_bucket(value))
        elif 5 <= number <= 14:
            native = histogram.native
            if native is None:
                native = histogram.native = NativeHistogram()
            _decode_native_field(native, number, wire_type, value)
    return histogram


def _decode_native_field(
    native: NativeHistogram, number: int, wire_type: int, value: object
) -> None:
    if number == 5 and wire_type == VARINT:
        assert isinstance(value, int)
        native.schema = _int32(_zigzag(value))
    elif number == 6 and wire_type == I64:
        native.zero_threshold = _double(value)
    elif number == 7 and wire_type == VARINT:
        assert isinstance(value, int)
        native.zero_count = value
    elif number == 8 and wire_type == I64:
        native.zero_count_float = _double(value)
    elif number in (9, 12) and wire_type == LEN:
        assert isinstance(value, bytes)
        spans = native.negative_span if number == 9 else native.positive_span
        offset: int | None = None
        length: int | None = None
        for inner_number, inner_type, inner in _fields(value, "BucketSpan"):
            if inner_number == 1 and inner_type == VARINT:
                assert isinstance(inner, int)
                offset = _int32(_zigzag(inner))
            elif inner_number == 2 and inner_type == VARINT:
                length = _uint32(inner)
        spans.append((offset, length))
    elif number in (10, 13):
        deltas = native.negative_delta if number == 10 else native.positive_delta
        if wire_type == VARINT:
            assert isinstance(value, int)
            deltas.append(_zigzag(value))
        elif wire_type == LEN:
            assert isinstance(value, bytes)
            position = 0
            while position < len(value):
                raw, position = _varint(value, position)
                deltas.append(_zigzag(raw))
    elif number in (11, 14):
        counts = native.negative_count if number == 11 else native.positive_count
        if wire_type == I64:
            counts.append(_double(value))
        elif wire_type == LEN:
            assert isinstance(value, bytes)
            if len(value) % 8:
                raise _WireError
            counts.extend(item[0] for item in _DOUBLE.iter_unpack(value))


def _decode_bucket(data: bytes) -> Bucket:
    bucket = Bucket()
    for number, wire_type, value in _fields(data, "Bucket"):
        if number == 1 and wire_type == VARINT:
            assert isinstance(value, int)
            bucket.cumulative_count = value
        elif number == 4 and wire_type == I64:
            bucket.cumulative_count_float = _double(value)
        elif number == 2 and wire_type == I64:
            bucket.upper_bound = _double(value)
        elif number == 3 and wire_type == LEN:
            assert isinstance(value, bytes)
            bucket.exemplar = _decode_exemplar(value, bucket.exemplar or Exemplar())
    return bucket
