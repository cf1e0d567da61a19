"""OTLP/HTTP request bodies written as the specification's JSON encoding has them
(lowerCamelCase keys, enums as numbers, 64-bit integers as strings), and their protobuf form
through the official definitions."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

CUMULATIVE = 2
DELTA = 1
NOW_NS = 1_800_000_000_000_000_000


def attributes(**values: Any) -> list[dict[str, Any]]:
    def any_value(value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"boolValue": value}
        if isinstance(value, int):
            return {"intValue": str(value)}
        if isinstance(value, float):
            return {"doubleValue": value}
        return {"stringValue": value}

    return [{"key": key, "value": any_value(value)} for key, value in values.items()]


def request(
    metrics: list[dict[str, Any]], service: str = "billing", **resource: Any
) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": attributes(**{"service.name": service, **resource})},
                "scopeMetrics": [{"scope": {"name": "billing.meter"}, "metrics": metrics}],
            }
        ]
    }


def counter(
    name: str,
    value: int,
    *,
    temporality: int = CUMULATIVE,
    start: int = NOW_NS,
    time: int = NOW_NS + 1,
    unit: str = "",
    **labels: Any,
) -> dict[str, Any]:
    point = {
        "attributes": attributes(**labels),
        "startTimeUnixNano": str(start),
        "timeUnixNano": str(time),
        "asInt": str(value),
    }
    return {
        "name": name,
        "unit": unit,
        "sum": {"aggregationTemporality": temporality, "isMonotonic": True, "dataPoints": [point]},
    }


def gauge(name: str, value: float, unit: str = "", **labels: Any) -> dict[str, Any]:
    point = {"attributes": attributes(**labels), "timeUnixNano": str(NOW_NS), "asDouble": value}
    return {"name": name, "unit": unit, "gauge": {"dataPoints": [point]}}


def as_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def as_protobuf(body: dict[str, Any]) -> bytes:
    message = ExportMetricsServiceRequest()
    json_format.Parse(json.dumps(body), message)
    return message.SerializeToString()


def response_from(body: bytes, content_type: str) -> ExportMetricsServiceResponse:
    response = ExportMetricsServiceResponse()
    if content_type.startswith("application/json"):
        json_format.Parse(body.decode(), response)
    else:
        response.ParseFromString(body)
    return response
