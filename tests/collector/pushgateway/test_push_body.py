"""The body is read as delimited protobuf only when Content-Type says so, as the Pushgateway."""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import PROTOBUF_CONTENT_TYPE, is_protobuf


@pytest.mark.parametrize(
    "content_type",
    [
        PROTOBUF_CONTENT_TYPE,
        'Application/Vnd.Google.Protobuf;encoding="delimited";PROTO=io.prometheus.client.MetricFamily',
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
        "encoding=delimited;",
    ],
)
def test_these_are_protobuf(content_type: str) -> None:
    assert is_protobuf(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain; version=0.0.4",
        "application/vnd.google.protobuf",
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text",
        "application/vnd.google.protobuf; encoding=delimited",
        "application/vnd.google.protobuf; proto=io.prometheus.client.metricfamily; "
        "encoding=delimited",
    ],
)
def test_anything_else_is_text(content_type: str | None) -> None:
    assert not is_protobuf(content_type)
