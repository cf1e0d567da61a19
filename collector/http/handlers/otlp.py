"""`POST /v1/metrics`: OpenTelemetry's OTLP/HTTP metrics export, as its specification has it.

Bodies are `application/x-protobuf` or `application/json`, plain or gzip (inflated within
the body limit, as a Pushgateway push is). The answer is in the request's encoding: 200 with
an ExportMetricsServiceResponse (its `partial_success` counting the points refused and
saying why), or a google.rpc.Status with 400 (undecodable), 413, 415, 429 or 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

from aiohttp import web

from batchgate.collector.auth import Token
from batchgate.collector.http.keys import GROUPS, INGEST, SETTINGS
from batchgate.collector.http.middlewares import identity
from batchgate.collector.ingest import Refused
from batchgate.collector.otlp import OtlpBodyError, encode_response, read_export
from batchgate.collector.otlp.decode import JSON, encode_status, media_type
from batchgate.collector.otlp.points import Rejected
from batchgate.collector.pushgateway import BodyParseError, PushTooLargeError
from batchgate.collector.pushgateway.gzip_body import gunzip

MAX_REASONS: Final = 10
"""Distinct reasons `partial_success.error_message` lists; it says how many more there were."""


class OtlpAnswer(NamedTuple):
    """An export's answer: what the aiohttp handler sends, and what the front door writes
    (collector/http/front_door.py) byte for byte the same."""

    status: int
    media: str
    body: bytes
    headers: Mapping[str, str] | None = None


def _status(
    media: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> OtlpAnswer:
    return OtlpAnswer(status, media, encode_status(media, message), headers)


def error_message(rejected: list[Rejected]) -> str:
    """The reasons, each once, with how many points each refused."""
    counts: dict[str, int] = {}
    for item in rejected:
        counts[item.reason] = counts.get(item.reason, 0) + item.points
    parts = [f"{reason} ({points} points)" for reason, points in list(counts.items())[:MAX_REASONS]]
    if len(counts) > MAX_REASONS:
        parts.append(f"and {len(counts) - MAX_REASONS} more reasons")
    return "; ".join(parts)


async def export(
    app: web.Application,
    token: Token,
    content_type: str | None,
    content_encoding: str | None,
    body: bytes,
) -> OtlpAnswer:
    """Store each resource's points of an export in its group, as `token` may; the
    answer OTLP/HTTP specifies."""
    media = media_type(content_type)
    if media is None:
        return _status(
            JSON,
            415,
            f"Content-Type {content_type!r} is not supported: "
            "send application/x-protobuf or application/json",
        )
    encoding = (content_encoding or "").strip().lower()
    limit = app[SETTINGS].max_body_bytes
    if encoding == "gzip":
        try:
            body, broken = gunzip(body, limit)
        except PushTooLargeError as error:
            return _status(
                media, 413, f"body {error.message} once inflated (limits.max_body_bytes)"
            )
        except BodyParseError as error:
            return _status(media, 400, f"gzip body cannot be read: {error.message}")
        if broken is not None:
            return _status(media, 400, f"gzip body cannot be read: {broken}")
    elif encoding not in ("", "identity"):
        return _status(media, 415, f"Content-Encoding {encoding!r} is not supported: send gzip")
    groups = app[GROUPS]
    try:
        batches = read_export(body, media, groups.registry.aggregating_job, groups.export_shapes)
    except OtlpBodyError as error:
        return _status(media, 400, str(error))
    try:
        rejected = await app[INGEST].push_otlp(token, batches)
    except Refused as refused:
        return _status(media, refused.status, refused.message, refused.headers)
    count = sum(item.points for item in rejected)
    return OtlpAnswer(200, media, encode_response(media, count, error_message(rejected)))


async def export_metrics(request: web.Request) -> web.Response:
    """`POST /v1/metrics`: `export`, answered through aiohttp."""
    content_type = request.headers.get("Content-Type")
    # A content type refused is answered without reading the body (415, whatever its size).
    body = await request.read() if media_type(content_type) is not None else b""
    answer = await export(
        request.app,
        identity(request),
        content_type,
        request.headers.get("Content-Encoding"),
        body,
    )
    return web.Response(
        status=answer.status, body=answer.body, content_type=answer.media, headers=answer.headers
    )
