"""After the same pushes, /metrics and /api/v1/metrics say what the real Pushgateway says.

Push times come from each side's clock, so push_time_seconds values and JSON timestamps are
blanked before comparing; everything else (series, order, labels, values, HELP, TYPE) must
be byte for byte the same.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest

from batchgate.collector.pushgateway import (
    PROTOBUF_CONTENT_TYPE,
    GroupRegistry,
    PushgatewayError,
    api_metrics,
    go_json,
)

from .client_bodies import go_client_body, python_client_body
from .conftest import RealPushgateway

NOW = 1795343029.5
_TIME_LINE = re.compile(r"^(push_(?:failure_)?time_seconds\{.*\}) (?!0$).*$", re.MULTILINE)

TIME_FAMILIES = ("push_time_seconds", "push_failure_time_seconds")
Push = tuple[str, str, bytes, str | None]

REPEATED = b'# HELP x Rows.\n# TYPE x gauge\nx %s\n# TYPE y counter\ny{k="1"} %s\nz %s\n'
REPEATS: list[Push] = [
    ("PUT", "job/r/instance/a", REPEATED % (b"1", b"2", b"3"), None),
    ("POST", "job/r/instance/a", REPEATED % (b"1e6", b"+Inf", b"-Inf"), None),
    ("PUT", "job/r/instance/b", b"# HELP x Rows.\n# TYPE x gauge\nx 5\n", None),
    ("PUT", "job/r/instance/a", REPEATED % (b"NaN", b"0.000001", b"123456789"), None),
    ("PUT", "job/r/instance/a", REPEATED % (b"1", b"2 1000", b"3"), None),
    ("PUT", "job/r/instance/a", REPEATED % (b"1", b"2", b"0x10"), None),
    ("PUT", "job/r/instance/a", REPEATED % (b"-0", b"5.", b".5"), None),
    ("POST", "job/r/instance/a", b"extra 1\n", None),
    ("PUT", "job/r/instance/a", REPEATED % (b"7", b"8", b"9"), None),
]
"""A job pushing one body again and again, with other values (some refused)."""

SCENARIOS: dict[str, list[Push]] = {
    "python client, then a partial POST": [
        ("PUT", "job/python/instance/host-1", python_client_body(), None),
        (
            "POST",
            "job/python/instance/host-1",
            b"# TYPE last_run_seconds gauge\nlast_run_seconds 7\n",
            None,
        ),
    ],
    "go client protobuf": [
        ("PUT", "job/go", go_client_body(), PROTOBUF_CONTENT_TYPE),
    ],
    "grouping labels merged into series": [
        (
            "PUT",
            "job/etl/path@base64/L3Zhci9sb2c/empty@base64/=/region/eu",
            b'rows{region="us",x="1"} 3\n',
            None,
        ),
        ("PUT", "job@base64/YS9i/instance/x", b"rows 4\n", None),
        (
            "PUT",
            "job/etl/zone/z",
            b'# TYPE lat histogram\nlat_bucket{le="1"} 1\nlat_sum 1\nlat_count 1\n',
            None,
        ),
    ],
    "series sorted across groups": [
        ("PUT", "job/a", b'm{k="3"} 1\nm{k="1"} 1\nm{a="x",k="2"} 1\n', None),
        ("PUT", "job/b", b'm{k="2"} 1\nm 5\n', None),
        ("PUT", "job/c/instance/i", b'm{k="0"} 1\n', None),
    ],
    "PUT replaces, POST merges, DELETE removes one group": [
        ("PUT", "job/a", b"one 1\ntwo 2\n", None),
        ("POST", "job/a", b"two 22\nthree 3\n", None),
        ("PUT", "job/b", b"one 10\n", None),
        ("PUT", "job/b", b"four 4\n", None),
        ("PUT", "job/c", b"one 100\n", None),
        ("DELETE", "job/c", b"", None),
        ("DELETE", "job/c/x/y", b"", None),
    ],
    "a refused push records its failure time": [
        ("PUT", "job/a", b"# TYPE foo gauge\nfoo 1\n", None),
        ("PUT", "job/b", b"bar 1\n", None),
        ("POST", "job/b", b"bar 1 1000\n", None),
        ("PUT", "job/new", b"baz 1 1000\n", None),
    ],
    "the same body again with new values (the fast path)": REPEATS,
    "empty PUT keeps only the timestamps": [
        ("PUT", "job/a", b"one 1\n", None),
        ("PUT", "job/a", b"", None),
    ],
}


def normalized_scrape(text: str) -> str:
    return _TIME_LINE.sub(r"\1 TIME", text)


def normalized_api(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = []
    for group in data:
        group = dict(group)
        for name, family in group.items():
            if isinstance(family, dict) and "time_stamp" in family:
                family = dict(family, time_stamp="TIME")
                if name in TIME_FAMILIES and family["metrics"][0]["value"] != "0":
                    family["metrics"] = [dict(family["metrics"][0], value="TIME")]
                group[name] = family
        groups.append(group)
    return sorted(groups, key=lambda group: sorted(group["labels"].items()))


def apply(registry: GroupRegistry, pushes: list[Push]) -> None:
    for number, (method, path, body, content_type) in enumerate(pushes):
        if method == "DELETE":
            registry.delete(path)
            continue
        with contextlib.suppress(PushgatewayError):  # Some scenarios push what is refused.
            registry.push(method, path, body, content_type, False, NOW + number)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_it_exposes_what_the_real_pushgateway_exposes(
    scenario: str, real_pushgateway: RealPushgateway
) -> None:
    registry = GroupRegistry()
    apply(registry, SCENARIOS[scenario])
    for method, path, body, content_type in SCENARIOS[scenario]:
        real_pushgateway.push(method, path, body, content_type)
    assert normalized_scrape(registry.render_text()) == normalized_scrape(
        real_pushgateway.metrics()
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_its_api_lists_what_the_real_pushgateway_lists(
    scenario: str, real_pushgateway: RealPushgateway
) -> None:
    registry = GroupRegistry()
    apply(registry, SCENARIOS[scenario])
    for method, path, body, content_type in SCENARIOS[scenario]:
        real_pushgateway.push(method, path, body, content_type)
    ours = json.loads(go_json(api_metrics(registry)))
    assert normalized_api(ours) == normalized_api(real_pushgateway.api_metrics())


def test_it_answers_each_repeated_push_as_the_real_pushgateway_does(
    real_pushgateway: RealPushgateway,
) -> None:
    registry = GroupRegistry()
    for number, (method, path, body, content_type) in enumerate(REPEATS):
        try:
            registry.push(method, path, body, content_type, False, NOW + number)
            ours = (200, "")
        except PushgatewayError as error:
            ours = (error.status, error.message + "\n")
        assert ours == real_pushgateway.push(method, path, body, content_type)
