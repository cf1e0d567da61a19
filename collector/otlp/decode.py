"""OTLP/HTTP bodies: an ExportMetricsServiceRequest from protobuf or JSON, and the answers.

Decoding uses the official definitions (opentelemetry-proto) and protobuf's own JSON
parser, which reads what the OTLP/HTTP JSON encoding writes: lowerCamelCase or original
field names, enums as numbers, 64-bit integers as strings or numbers, unknown fields
ignored (the specification asks receivers to ignore them). Trace and span ids are hex in
OTLP's JSON, not base64: only exemplars carry them, and exemplars are not kept.
"""

from __future__ import annotations

import json
from typing import Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"

INVALID_ARGUMENT: Final = 3
"""google.rpc.Code's INVALID_ARGUMENT, the code of a 400's Status."""


class OtlpBodyError(Exception):
    """A body that is not an ExportMetricsServiceRequest in the encoding it claims (400)."""


def media_type(content_type: str | None) -> str | None:
    """`application/x-protobuf` or `application/json` (parameters ignored), else None."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return media if media in (PROTOBUF, JSON) else None


def decode_request(body: bytes, media: str) -> ExportMetricsServiceRequest:
    """The request in `body`, encoded as `media` says; OtlpBodyError if it is not one."""
    request = ExportMetricsServiceRequest()
    if media == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as error:
            raise OtlpBodyError(f"body is not an ExportMetricsServiceRequest: {error}") from None
        return request
    try:
        text = body.decode("utf-8")
        json_format.Parse(text, request, ignore_unknown_fields=True)
    except UnicodeDecodeError:
        raise OtlpBodyError("body is not UTF-8 JSON") from None
    except json_format.ParseError as error:
        raise OtlpBodyError(f"body is not an ExportMetricsServiceRequest: {error}") from None
    return request


def encode_response(media: str, rejected: int, message: str) -> bytes:
    """ExportMetricsServiceResponse, with `partial_success` set when points were rejected."""
    response = ExportMetricsServiceResponse()
    if rejected or message:
        response.partial_success.rejected_data_points = rejected
        response.partial_success.error_message = message
    if media == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode("utf-8")


def encode_status(media: str, message: str, code: int = INVALID_ARGUMENT) -> bytes:
    """A google.rpc.Status (the body of an OTLP/HTTP error answer) with `code` and `message`.

    google.rpc.Status is not in opentelemetry-proto; its two scalar fields (code = 1,
    message = 2) are written here rather than adding googleapis-common-protos for them."""
    if media == PROTOBUF:
        text = message.encode("utf-8")
        return bytes([0x08]) + _varint(code) + bytes([0x12]) + _varint(len(text)) + text
    return json.dumps({"code": code, "message": message}).encode("utf-8")


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
