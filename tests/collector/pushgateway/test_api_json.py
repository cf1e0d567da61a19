"""/api/v1/metrics and /api/v1/status data, and JSON written as Go writes it."""

from __future__ import annotations

import math

from batchgate.collector.pushgateway import GroupRegistry, api_metrics, api_status, go_json, success
from batchgate.collector.pushgateway.api_json import rfc3339_nano


def test_each_group_lists_its_families_with_push_times(registry: GroupRegistry) -> None:
    registry.push(
        "PUT",
        "job/a/instance/i",
        b'# HELP m Help.\n# TYPE m gauge\nm{k="v"} 2.5\n'
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 0.5\nh_count 1\n'
        b'# TYPE s summary\ns{quantile="0.9"} 3\ns_sum 9\ns_count 3\n',
        None,
        False,
        1700000000.25,
    )
    (group,) = api_metrics(registry)
    assert list(group) == [
        "h",
        "labels",
        "last_push_successful",
        "m",
        "push_failure_time_seconds",
        "push_time_seconds",
        "s",
    ]
    assert group["labels"] == {"instance": "i", "job": "a"}
    assert group["last_push_successful"] is True
    assert group["m"] == {
        "time_stamp": "2023-11-14T22:13:20.25Z",
        "type": "GAUGE",
        "help": "Help.",
        "metrics": [{"labels": {"instance": "i", "job": "a", "k": "v"}, "value": "2.5"}],
    }
    assert group["h"]["metrics"] == [
        {"buckets": {"1": "1"}, "count": "1", "labels": {"instance": "i", "job": "a"}, "sum": "0.5"}
    ]
    assert group["s"]["metrics"][0]["quantiles"] == {"0.9": "3"}
    assert group["push_time_seconds"]["metrics"][0]["value"] == "1.70000000025e+09"
    assert group["push_failure_time_seconds"]["metrics"][0]["value"] == "0"


def test_status_data_has_the_pushgateway_s_keys() -> None:
    assert api_status({"web.listen-address": ":9091"}, {"version": "0.1.0"}, 0.0) == {
        "build_information": {"version": "0.1.0"},
        "flags": {"web.listen-address": ":9091"},
        "start_time": "1970-01-01T00:00:00Z",
    }


def test_json_is_written_like_encoding_json() -> None:
    assert go_json({"b": ["<&>", True, None], "a": "é\n\u2028\x01"}) == (
        '{"b":["\\u003c\\u0026\\u003e",true,null],"a":"é\\n\\u2028\\u0001"}'
    )
    assert success([]) == '{"status":"success","data":[]}'
    assert math.isnan(float("nan"))


def test_times_are_rfc3339_with_nanoseconds_trimmed() -> None:
    assert rfc3339_nano(1700000000.0) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(1700000000.5) == "2023-11-14T22:13:20.5Z"
