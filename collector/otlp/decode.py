"""OTLP/HTTP bodies: an ExportMetricsServiceRequest from protobuf or JSON, and the answers.

Decoding uses the official definitions (opentelemetry-proto) and protobuf's own JSON
parser, which reads what the OTLP/HTTP JSON encoding writes: lowerCamelCase or original
field names, enums as numbers, 64-bit integers as strings or numbers, unknown fields
ignored (the specification asks receivers to ignore them). Trace and span ids are hex in
OTLP's JSON, not base64: only exemplars carry them, and exemplars are not kept.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
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
    if media == PROTOBUF:
        request = ExportMetricsServiceRequest()
        try:
            request.ParseFromString(body)
        except DecodeError as error:
            raise OtlpBodyError(f"body is not an ExportMetricsServiceRequest: {error}") from None
        return request
    return request_from_json(load_json(body))


def load_json(body: bytes) -> Any:
    """The JSON value in `body`; OtlpBodyError if there is none."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise OtlpBodyError(f"body is not UTF-8 JSON: {error}") from None
    except RecursionError:
        raise OtlpBodyError("body is nested too deeply") from None


def request_from_json(decoded: Any) -> ExportMetricsServiceRequest:
    """The request a JSON body (as `load_json` gives it) encodes; OtlpBodyError if none."""
    request = ExportMetricsServiceRequest()
    try:
        # The parser, told to ignore unknown fields as OTLP asks, also takes a string or an
        # array where a message belongs (as if its characters were fields): check first.
        _check_messages(decoded, request.DESCRIPTOR, "body")
        json_format.ParseDict(decoded, request, ignore_unknown_fields=True)
    except json_format.ParseError as error:  # not a ValueError in every protobuf release
        raise OtlpBodyError(f"body is not an ExportMetricsServiceRequest: {error}") from None
    except ValueError as error:
        raise OtlpBodyError(f"body is not UTF-8 JSON: {error}") from None
    except RecursionError:
        raise OtlpBodyError("body is nested too deeply") from None
    return request


def _check_messages(value: Any, descriptor: Descriptor, where: str) -> None:
    """OtlpBodyError unless every message field of `value` holds an object (a list of them
    when repeated); fields the definitions do not know are left for the parser to ignore."""
    if not isinstance(value, dict):
        raise OtlpBodyError(f"{where} must be a JSON object")
    fields = _message_fields(descriptor)
    for name, item in value.items():
        field = fields.get(name)
        if field is None or item is None:
            continue
        message_type, repeated = field
        if repeated:
            if not isinstance(item, list):
                raise OtlpBodyError(f"{where}.{name} must be a JSON array")
            for position, one in enumerate(item):
                if type(one) is dict and not _message_fields(message_type):
                    continue  # a message without message fields: nothing more to check
                _check_messages(one, message_type, f"{where}.{name}[{position}]")
        else:
            _check_messages(item, message_type, f"{where}.{name}")


@functools.cache
def _message_fields(descriptor: Descriptor) -> dict[str, tuple[Descriptor, bool]]:
    """A message's fields that hold messages, by JSON and proto name: (type, repeated).
    Made once per message type (the check runs for every message of every export)."""
    fields: dict[str, tuple[Descriptor, bool]] = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            fields[field.json_name] = fields[field.name] = (field.message_type, _repeated(field))
    return fields


def _repeated(field: FieldDescriptor) -> bool:
    # `is_repeated` is protobuf 5.29's; `label`, which older releases have, is gone in 7.
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    label = getattr(field, "label", None)
    return bool(label == FieldDescriptor.LABEL_REPEATED)


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
