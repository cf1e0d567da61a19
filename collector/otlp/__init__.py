"""OpenTelemetry's metrics (OTLP) turned into Prometheus families, as a pure core.

No I/O, no clock: a decoded `ExportMetricsServiceRequest` and `now` go in; per resource a
grouping key and the families to store come out, with every refused data point counted and
its reason given. The server (collector/ingest.py, collector/groups.py) stores the families
as a Pushgateway group, so OTLP groups are durable, checked, exposed and expired as those are.
"""

from batchgate.collector.otlp.decode import OtlpBodyError, decode_request, encode_response
from batchgate.collector.otlp.repeats import read_export
from batchgate.collector.otlp.same_shape import ExportShapes, Repeat
from batchgate.collector.otlp.series import OtlpGroupState
from batchgate.collector.otlp.translate import ResourceBatch, translate_request

__all__ = [
    "ExportShapes",
    "OtlpBodyError",
    "OtlpGroupState",
    "Repeat",
    "ResourceBatch",
    "decode_request",
    "encode_response",
    "read_export",
    "translate_request",
]
