"""An export read for the same-shape path (`same_shape`): each resource's number points'
values and times, and a digest of everything else it carries; then either the repeats of
known shapes, or the full path's translated resources.

Both encodings are decoded by the official definitions and protobuf's own parser, except
what the same-shape path needs of a JSON body: a resource whose digest is the one a body
had that protobuf's parser read and the full path stored, apart from the values of
`asDouble`, `asInt`, `startTimeUnixNano` and `timeUnixNano`, is read with the `json`
module alone. Those values are taken only in forms the parser reads the same way
(numbers, decimal strings, "NaN", "Infinity", "-Infinity", within their fields' ranges);
any other form, and any other body, goes to the parser (docs/decisions.md). A body that
repeats, as text, one such body apart from those values is not even read by the `json`
module: `json_text` proves it and reads its values by the same rules (`json_scalars`).

The digest is SHA-256 of the resource with those values set to zero: in protobuf, a copy
of the decoded `ResourceMetrics` serialised; in JSON, the resource's object written again
by the `json` module. Two resources with one digest are the same resource, apart from
those values, for as long as SHA-256 has no known collision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import ResourceMetrics

from batchgate.collector.otlp.decode import (
    PROTOBUF,
    decode_request,
    load_json,
    request_from_json,
)
from batchgate.collector.otlp.json_scalars import INT64, UINT64, read_double, read_integer
from batchgate.collector.otlp.points import Reading
from batchgate.collector.otlp.same_shape import ExportShapes, Repeat
from batchgate.collector.otlp.translate import ResourceBatch, translate_request
from batchgate.collector.pushgateway.aggregation import AggregateRule

Aggregating = Callable[[str], AggregateRule | None]


def read_export(
    body: bytes, media: str, aggregating: Aggregating, shapes: ExportShapes | None
) -> list[ResourceBatch | Repeat]:
    """The export in `body`: each resource a repeat of a known shape (all of them are, or
    none), or translated (`translate_request`); OtlpBodyError if it is not an export.
    Without `shapes` (the same-shape path turned off) every resource is translated."""
    if media == PROTOBUF:
        request = decode_request(body, PROTOBUF)
        if shapes is None:
            return list(translate_request(request, aggregating))
        readings = [protobuf_reading(resource) for resource in request.resource_metrics]

        def protobuf_resource(position: int) -> ResourceBatch:
            alone = ExportMetricsServiceRequest()
            alone.resource_metrics.append(request.resource_metrics[position])
            return translate_request(alone, aggregating)[0]

        repeats = _repeats(readings, shapes, protobuf_resource)
        if repeats is not None:
            return list(repeats)
        return list(translate_request(request, aggregating, readings))
    if shapes is None:
        return list(translate_request(request_from_json(load_json(body)), aggregating))

    def json_resource(position: int) -> ResourceBatch:
        resource = load_json(body)["resourceMetrics"][position]
        alone = request_from_json({"resourceMetrics": [resource]})
        return translate_request(alone, aggregating)[0]

    text_readings = shapes.json_texts.readings(body)
    if text_readings is not None:
        repeats = _repeats(text_readings, shapes, json_resource)
        if repeats is not None:
            return list(repeats)
    decoded = load_json(body)
    json_readings = _json_readings(decoded)  # sets the values it reads to zero
    if json_readings is None:
        request = request_from_json(decoded)
        return list(translate_request(request, aggregating))
    repeats = _repeats(json_readings, shapes, json_resource)
    if repeats is not None:
        # Read from its text next time (`json_text`).
        shapes.json_texts.keep(body, decoded, [repeat.reading for repeat in repeats])
        return list(repeats)
    request = request_from_json(load_json(body))
    return list(translate_request(request, aggregating, json_readings))


def _repeats(
    readings: Sequence[Reading | None],
    shapes: ExportShapes,
    translate: Callable[[int], ResourceBatch],
) -> list[Repeat] | None:
    """A repeat for each resource, if each is a known shape of a group of its own."""
    if not readings or not len(shapes):
        return None
    repeats = []
    keys = set()
    for position, reading in enumerate(readings):
        shape = shapes.get(reading.digest) if reading is not None else None
        if reading is None or shape is None or len(shape.kinds) != len(reading.values):
            return None
        keys.add(shape.key)
        repeats.append(Repeat(shape, reading, _translating(translate, position)))
    return repeats if len(keys) == len(repeats) else None


def _translating(
    translate: Callable[[int], ResourceBatch], position: int
) -> Callable[[], ResourceBatch]:
    return lambda: translate(position)


def protobuf_reading(resource: ResourceMetrics) -> Reading | None:
    """The resource's values and digest (see the module's text); None if it carries
    anything but gauges and sums, or a point without a value."""
    copy = ResourceMetrics()
    copy.CopyFrom(resource)
    values: list[float] = []
    starts: list[int] = []
    times: list[int] = []
    for scope in copy.scope_metrics:
        for metric in scope.metrics:
            kind = metric.WhichOneof("data")
            if kind == "gauge":
                points = metric.gauge.data_points
            elif kind == "sum":
                points = metric.sum.data_points
            else:
                return None
            for point in points:
                which = point.WhichOneof("value")
                if which == "as_double":
                    values.append(point.as_double)
                    point.as_double = 0.0
                elif which == "as_int":
                    values.append(float(point.as_int))
                    point.as_int = 0
                else:
                    return None
                starts.append(point.start_time_unix_nano)
                times.append(point.time_unix_nano)
                point.start_time_unix_nano = 0
                point.time_unix_nano = 0
    serialized = copy.SerializeToString(deterministic=True)
    return Reading(hashlib.sha256(b"protobuf\n" + serialized).digest(), values, starts, times)


def _json_readings(decoded: Any) -> list[Reading | None] | None:
    """Each resource's reading of a JSON body (`json_reading`), None if the body is not an
    object holding `resourceMetrics` alone."""
    if type(decoded) is not dict or len(decoded) != 1:
        return None
    resources = decoded.get("resourceMetrics")
    if type(resources) is not list:
        return None
    return [json_reading(resource) for resource in resources]


def json_reading(resource: Any) -> Reading | None:
    """A JSON resource's values and digest (see the module's text): the values it reads
    are set to 0 in `resource`. None if it carries anything but gauges and sums written
    as the specification writes them, a point without a value, or a value in another form."""
    if type(resource) is not dict:
        return None
    values: list[float] = []
    starts: list[int] = []
    times: list[int] = []
    for scope in _objects(resource.get("scopeMetrics", [])):
        if scope is None:
            return None
        for metric in _objects(scope.get("metrics", [])):
            if metric is None:
                return None
            data = metric.get("gauge", metric.get("sum"))
            if type(data) is not dict:
                return None
            for point in _objects(data.get("dataPoints", [])):
                if point is None:
                    return None
                if "asDouble" in point:
                    value = read_double(point["asDouble"])
                    point["asDouble"] = 0
                elif "asInt" in point:
                    number = read_integer(point["asInt"], -INT64, INT64)
                    value = float(number) if number is not None else None
                    point["asInt"] = 0
                else:
                    return None
                start = read_integer(point.get("startTimeUnixNano", 0), 0, UINT64)
                time = read_integer(point.get("timeUnixNano", 0), 0, UINT64)
                if value is None or start is None or time is None:
                    return None
                if "startTimeUnixNano" in point:
                    point["startTimeUnixNano"] = 0
                if "timeUnixNano" in point:
                    point["timeUnixNano"] = 0
                values.append(value)
                starts.append(start)
                times.append(time)
    text = json.dumps(resource, separators=(",", ":"))
    return Reading(hashlib.sha256(b"json\n" + text.encode()).digest(), values, starts, times)


def _objects(items: Any) -> list[dict[str, Any] | None]:
    """The JSON objects of an array (None for each item that is not one)."""
    if type(items) is not list:
        return [None]
    return [item if type(item) is dict else None for item in items]
