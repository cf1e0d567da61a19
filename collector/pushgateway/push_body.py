"""A push body: gzip, then text format or delimited protobuf by Content-Type, within bounds."""

from __future__ import annotations

from typing import Final

from collector.pushgateway.delimited_protobuf import parse_delimited
from collector.pushgateway.errors import PushTooLargeError
from collector.pushgateway.gzip_body import gunzip
from collector.pushgateway.model import MetricFamily
from collector.pushgateway.text_parser import parse_text

PROTOBUF_MEDIA_TYPE: Final = "application/vnd.google.protobuf"


def parse_push_body(
    body: bytes, content_type: str | None, gzipped: bool, max_bytes: int
) -> dict[str, MetricFamily]:
    """The families in `body`; PushTooLargeError beyond `max_bytes` (before or after gzip)."""
    if len(body) > max_bytes:
        raise PushTooLargeError(f"body exceeds {max_bytes} bytes")
    stream_error = None
    if gzipped:
        body, stream_error = gunzip(body, max_bytes)
    if is_protobuf(content_type):
        return parse_delimited(body, stream_error)
    return parse_text(body, stream_error)


def is_protobuf(content_type: str | None) -> bool:
    """Whether the Pushgateway would read the body as delimited MetricFamily protobuf."""
    if not content_type:
        return False
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != PROTOBUF_MEDIA_TYPE:
        return False
    values = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    return (
        values.get("encoding") == "delimited"
        and values.get("proto") == "io.prometheus.client.MetricFamily"
    )
