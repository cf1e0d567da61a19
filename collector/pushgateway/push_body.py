"""A push body: its size bound, gzip, and whether Content-Type makes it delimited protobuf."""

from __future__ import annotations

from typing import Final

from batchgate.collector.pushgateway.errors import PushTooLargeError
from batchgate.collector.pushgateway.gzip_body import gunzip

PROTOBUF_MEDIA_TYPE: Final = "application/vnd.google.protobuf"


def unpacked_body(body: bytes, gzipped: bool, max_bytes: int) -> tuple[bytes, str | None]:
    """The body as the parsers read it, and the read error that followed (broken gzip).

    PushTooLargeError beyond `max_bytes`, before or after gzip.
    """
    if len(body) > max_bytes:
        raise PushTooLargeError(f"body exceeds {max_bytes} bytes")
    if gzipped:
        return gunzip(body, max_bytes)
    return body, None


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
