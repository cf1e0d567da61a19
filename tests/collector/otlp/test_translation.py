"""The translation alone (pure): names and labels as the OpenTelemetry specification's
Prometheus compatibility section gives them, and exponential histograms as classic buckets."""

from __future__ import annotations

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import ExponentialHistogramDataPoint

from batchgate.collector.otlp.names import label_name, labels_from, metric_name
from batchgate.collector.otlp.translate import classic_buckets, grouping_key


@pytest.mark.parametrize(
    ("name", "unit", "counter", "gauge", "expected"),
    [
        ("http.server.duration", "ms", False, False, "http_server_duration_milliseconds"),
        ("http.server.requests", "{request}", True, False, "http_server_requests_total"),
        ("system.memory.usage", "By", False, True, "system_memory_usage_bytes"),
        ("network.io", "By/s", True, False, "network_io_bytes_per_second_total"),
        ("cpu.utilization", "1", False, True, "cpu_utilization_ratio"),
        ("requests.total.count", "", True, False, "requests_count_total"),
        ("latency_seconds", "s", False, False, "latency_seconds"),
        ("2xx.responses", "", True, False, "_2xx_responses_total"),
        ("speed", "m/h", False, True, "speed_meters_per_hour"),
    ],
)
def test_metric_names_carry_unit_and_type_suffixes(
    name: str, unit: str, counter: bool, gauge: bool, expected: str
) -> None:
    assert metric_name(name, unit, counter=counter, gauge=gauge) == expected


def test_attribute_names_are_sanitised_and_collisions_joined() -> None:
    assert label_name("http.method") == "http_method"
    assert label_name("0day") == "key_0day"
    assert label_name("_private") == "key_private"
    assert label_name("__reserved") == "__reserved"
    assert labels_from([("a.b", "1"), ("a-b", "2"), ("flag", True), ("n", 3)]) == {
        "a_b": "2;1",  # joined in the order of the original names: "a-b" < "a.b"
        "flag": "true",
        "n": "3",
    }


def test_the_group_is_the_service_and_its_instance() -> None:
    resource = {"service.name": "api", "service.namespace": "shop", "service.instance.id": "i-1"}
    assert grouping_key(resource) == (("instance", "i-1"), ("job", "shop/api"))
    assert grouping_key({}) == (("job", "unknown_service"),)


def test_an_exponential_histogram_becomes_classic_buckets() -> None:
    point = ExponentialHistogramDataPoint(scale=0, zero_count=1, zero_threshold=0.0, count=7)
    point.positive.offset = 0  # bucket i holds (2**i, 2**(i+1)]
    point.positive.bucket_counts.extend([2, 3])
    point.negative.offset = 1  # bucket 1 of the negatives holds [-4, -2)
    point.negative.bucket_counts.extend([1])
    converted = classic_buckets(point)
    assert not isinstance(converted, str), converted
    bounds, counts = converted
    assert bounds == (-2.0, 0.0, 2.0, 4.0)
    assert counts == (1, 1, 2, 3, 0)
    assert sum(counts) == point.count


def test_a_huge_exponential_histogram_is_refused_with_its_reason() -> None:
    point = ExponentialHistogramDataPoint(scale=20)
    point.positive.bucket_counts.extend([1] * 5000)
    reason = classic_buckets(point)
    assert isinstance(reason, str)
    assert "5001 buckets" in reason
    point = ExponentialHistogramDataPoint(scale=-10)
    point.positive.offset = 10
    point.positive.bucket_counts.extend([1])
    assert "overflow" in str(classic_buckets(point))
