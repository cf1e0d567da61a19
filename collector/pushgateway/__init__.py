"""The Prometheus Pushgateway's push protocol, as a pure core: no I/O, no clock, no asyncio.

Everything here takes bytes, strings and `now` (unix seconds) and returns values or raises
PushgatewayError subclasses carrying the HTTP status and the Pushgateway's exact message.
The server wires `GroupRegistry` into its handlers, its SQLite store and its /metrics.
"""

from batchgate.collector.pushgateway.aggregation import AggregateRule
from batchgate.collector.pushgateway.api_json import (
    api_group,
    api_metrics,
    api_status,
    go_json,
    success,
)
from batchgate.collector.pushgateway.delimited_protobuf import (
    CONTENT_TYPE as PROTOBUF_CONTENT_TYPE,
)
from batchgate.collector.pushgateway.delimited_protobuf import parse_delimited
from batchgate.collector.pushgateway.errors import (
    BodyParseError,
    GroupingKeyError,
    InconsistentPushError,
    ProtobufParseError,
    PushgatewayError,
    PushTooLargeError,
    TextParseError,
)
from batchgate.collector.pushgateway.expiry import ExpiryRule
from batchgate.collector.pushgateway.group import GroupSummary, PushResult
from batchgate.collector.pushgateway.grouping_key import (
    GroupingKey,
    encode_grouping_path,
    parse_grouping_key,
)
from batchgate.collector.pushgateway.protobuf_encoding import encode_delimited
from batchgate.collector.pushgateway.push_body import is_protobuf
from batchgate.collector.pushgateway.registry import GroupRegistry
from batchgate.collector.pushgateway.text_parser import parse_text

__all__ = [
    "PROTOBUF_CONTENT_TYPE",
    "AggregateRule",
    "BodyParseError",
    "ExpiryRule",
    "GroupRegistry",
    "GroupSummary",
    "GroupingKey",
    "GroupingKeyError",
    "InconsistentPushError",
    "ProtobufParseError",
    "PushResult",
    "PushTooLargeError",
    "PushgatewayError",
    "TextParseError",
    "api_group",
    "api_metrics",
    "api_status",
    "encode_delimited",
    "encode_grouping_path",
    "go_json",
    "is_protobuf",
    "parse_delimited",
    "parse_grouping_key",
    "parse_text",
    "success",
]
