"""`POST /v1/metrics`: OpenTelemetry's OTLP/HTTP metrics export, as its specification has it.

Bodies are `application/x-protobuf` or `application/json`, plain or gzip (inflated within
the body limit, as a Pushgateway push is). The answer is in the request's encoding: 200 with
an ExportMetricsServiceResponse (its `partial_success` counting the points refused and
saying why), or a google.rpc.Status with 400 (undecodable), 413, 415, 429 or 503.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from batchgate.collector.http.keys import GROUPS, INGEST, SETTINGS
from batchgate.collector.http.middlewares import identity
from batchgate.collector.ingest import Refused
from batchgate.collector.otlp import (
    OtlpBodyError,
    decode_request,
    encode_response,
    translate_request,
)
from batchgate.collector.otlp.decode import JSON, encode_status, media_type
from batchgate.collector.otlp.points import Rejected
from batchgate.collector.pushgateway import BodyParseError, PushTooLargeError
from batchgate.collector.pushgateway.gzip_body import gunzip

MAX_REASONS: Final = 10
"""Distinct reasons `partial_success.error_message` lists; it says how many more there were."""


def _answer(
    media: str, status: int, body: bytes, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(status=status, body=body, content_type=media, headers=headers)


def _status(
    media: str, status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return _answer(media, status, encode_status(media, message), headers)


def error_message(rejected: list[Rejected]) -> str:
    """The reasons, each once, with how many points each refused."""
    counts: dict[str, int] = {}
    for item in rejected:
        counts[item.reason] = counts.get(item.reason, 0) + item.points
    parts = [f"{reason} ({points} points)" for reason, points in list(counts.items())[:MAX_REASONS]]
    if len(counts) > MAX_REASONS:
        parts.append(f"and {len(counts) - MAX_REASONS} more reasons")
    return "; ".join(parts)


async def export_metrics(request: web.Request) -> web.Response:
    """Store each resource's points in its group; answer as OTLP/HTTP says."""
    media = media_type(request.headers.get("Content-Type"))
    if media is None:
        return _status(
            JSON,
            415,
            f"Content-Type {request.headers.get('Content-Type')!r} is not supported: "
            "send application/x-protobuf or application/json",
        )
    body = await request.read()
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    limit = request.app[SETTINGS].max_body_bytes
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
    try:
        aggregating = request.app[GROUPS].registry.aggregating_job
        batches = translate_request(decode_request(body, media), aggregating)
    except OtlpBodyError as error:
        return _status(media, 400, str(error))
    try:
        rejected = await request.app[INGEST].push_otlp(identity(request), batches)
    except Refused as refused:
        return _status(media, refused.status, refused.message, refused.headers)
    count = sum(item.points for item in rejected)
    return _answer(media, 200, encode_response(media, count, error_message(rejected)))
