"""Delimited `MetricFamily` protobuf written as client_golang writes it: fields in number order.

Used to build pushes the way the Go client sends them (tests, tools), and to keep the rare
family whose exposition text would not give it back exactly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from batchgate.collector.pushgateway.model import (
    Bucket,
    Exemplar,
    Histogram,
    Metric,
    MetricFamily,
    NativeHistogram,
    Summary,
    Value,
)

_DOUBLE = struct.Struct("<d")
_VARINT = 0
_I64 = 1
_LEN = 2


def encode_delimited(families: Iterable[MetricFamily]) -> bytes:
    """A delimited stream of `families`, each message prefixed with its varint length."""
    out = bytearray()
    for family in families:
        message = encode_family(family)
        out += _encode_varint(len(message))
        out += message
    return bytes(out)


def delimit(message: bytes) -> bytes:
    """`message` with its varint length prefix."""
    return _encode_varint(len(message)) + message


def encode_family(family: MetricFamily) -> bytes:
    out = bytearray()
    out += _string_field(1, family.name)
    if family.help is not None:
        out += _string_field(2, family.help)
    if family.type is not None:
        out += _varint_field(3, family.type)
    for metric in family.metrics:
        out += _message_field(4, _encode_metric(metric))
    return bytes(out)


def _encode_metric(metric: Metric) -> bytes:
    out = bytearray()
    for pair in metric.labels:
        out += _message_field(1, _encode_labels(pair))
    if metric.gauge is not None:
        out += _message_field(2, _encode_value(metric.gauge))
    if metric.counter is not None:
        out += _message_field(3, _encode_value(metric.counter))
    if metric.summary is not None:
        out += _message_field(4, _encode_summary(metric.summary))
    if metric.untyped is not None:
        out += _message_field(5, _encode_value(metric.untyped))
    if metric.timestamp_ms is not None:
        out += _varint_field(6, metric.timestamp_ms)
    if metric.histogram is not None:
        out += _message_field(7, _encode_histogram(metric.histogram))
    return bytes(out)


def _encode_labels(pair: tuple[str, str]) -> bytes:
    return _string_field(1, pair[0]) + _string_field(2, pair[1])


def _encode_value(message: Value) -> bytes:
    out = bytearray()
    if message.value is not None:
        out += _double_field(1, message.value)
    if message.exemplar is not None:
        out += _message_field(2, _encode_exemplar(message.exemplar))
    return bytes(out)


def _encode_exemplar(exemplar: Exemplar) -> bytes:
    out = bytearray()
    for pair in exemplar.labels:
        out += _message_field(1, _encode_labels(pair))
    if exemplar.value is not None:
        out += _double_field(2, exemplar.value)
    if exemplar.timestamp is not None:
        seconds, nanos = exemplar.timestamp
        inner = bytearray()
        if seconds:
            inner += _varint_field(1, seconds)
        if nanos:
            inner += _varint_field(2, nanos)
        out += _message_field(3, bytes(inner))
    return bytes(out)


def _encode_summary(summary: Summary) -> bytes:
    out = bytearray()
    if summary.sample_count is not None:
        out += _varint_field(1, summary.sample_count)
    if summary.sample_sum is not None:
        out += _double_field(2, summary.sample_sum)
    for quantile in summary.quantiles:
        inner = bytearray()
        if quantile.quantile is not None:
            inner += _double_field(1, quantile.quantile)
        if quantile.value is not None:
            inner += _double_field(2, quantile.value)
        out += _message_field(3, bytes(inner))
    return bytes(out)


def _encode_histogram(histogram: Histogram) -> bytes:
    out = bytearray()
    if histogram.sample_count is not None:
        out += _varint_field(1, histogram.sample_count)
    if histogram.sample_sum is not None:
        out += _double_field(2, histogram.sample_sum)
    for bucket in histogram.buckets:
        out += _message_field(3, _encode_bucket(bucket))
    if histogram.sample_count_float is not None:
        out += _double_field(4, histogram.sample_count_float)
    if histogram.native is not None:
        out += _encode_native(histogram.native)
    return bytes(out)


def _encode_native(native: NativeHistogram) -> bytes:
    out = bytearray()
    if native.schema is not None:
        out += _varint_field(5, _zigzag_encode(native.schema))
    if native.zero_threshold is not None:
        out += _double_field(6, native.zero_threshold)
    if native.zero_count is not None:
        out += _varint_field(7, native.zero_count)
    if native.zero_count_float is not None:
        out += _double_field(8, native.zero_count_float)
    for number, spans, deltas, counts in (
        (9, native.negative_span, native.negative_delta, native.negative_count),
        (12, native.positive_span, native.positive_delta, native.positive_count),
    ):
        for offset, length in spans:
            inner = bytearray()
            if offset is not None:
                inner += _varint_field(1, _zigzag_encode(offset))
            if length is not None:
                inner += _varint_field(2, length)
            out += _message_field(number, bytes(inner))
        if deltas:
            packed = b"".join(_encode_varint(_zigzag_encode(delta)) for delta in deltas)
            out += _message_field(number + 1, packed)
        if counts:
            out += _message_field(number + 2, b"".join(_DOUBLE.pack(count) for count in counts))
    return bytes(out)


def _zigzag_encode(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _encode_bucket(bucket: Bucket) -> bytes:
    out = bytearray()
    if bucket.cumulative_count is not None:
        out += _varint_field(1, bucket.cumulative_count)
    if bucket.upper_bound is not None:
        out += _double_field(2, bucket.upper_bound)
    if bucket.exemplar is not None:
        out += _message_field(3, _encode_exemplar(bucket.exemplar))
    if bucket.cumulative_count_float is not None:
        out += _double_field(4, bucket.cumulative_count_float)
    return bytes(out)


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _encode_varint(number << 3 | _VARINT) + _encode_varint(value)


def _double_field(number: int, value: float) -> bytes:
    return _encode_varint(number << 3 | _I64) + _DOUBLE.pack(value)


def _string_field(number: int, value: str) -> bytes:
    return _message_field(number, value.encode("utf-8", "surrogateescape"))


def _message_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload
