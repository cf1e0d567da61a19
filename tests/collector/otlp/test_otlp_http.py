"""`POST /v1/metrics` answers as the OTLP/HTTP specification says: protobuf and JSON, gzip,
200 with `partial_success` naming what was refused and why, 400 for an undecodable body,
413, 415, and the push role's job patterns."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Awaitable, Callable

import pytest

from batchgate.collector.auth import PUSH, Token
from tests.collector.otlp.bodies import (
    DELTA,
    NOW_NS,
    as_json,
    as_protobuf,
    counter,
    gauge,
    request,
    response_from,
)
from tests.collector.otlp.sdk import sample
from tests.helpers import Client

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
GZIP = {"Content-Encoding": "gzip"}


async def export(
    client: Client,
    body: bytes,
    content_type: str,
    expect: int = 200,
    headers: dict[str, str] | None = None,
) -> bytes:
    response = await client.post(
        "/v1/metrics", data=body, headers={"Content-Type": content_type, **(headers or {})}
    )
    answer = await response.read()
    assert response.status == expect, answer
    # A 401 comes from the authentication in front of every route (JSON, as everywhere).
    if content_type in (PROTOBUF, JSON) and expect != 401:
        assert response.headers["Content-Type"].startswith(content_type)
    return answer


async def metrics(client: Client) -> str:
    response = await client.get("/metrics")
    return await response.text()


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
async def test_protobuf_and_json_exports_are_stored(client: Client, content_type: str) -> None:
    body = request(
        [counter("http.requests", 42, route="/pay"), gauge("cache.hit_ratio", 0.5, unit="1")],
        service="billing",
        **{"service.namespace": "shop", "service.instance.id": "pod-7", "region": "eu"},
    )
    encoded = as_protobuf(body) if content_type == PROTOBUF else as_json(body)
    answer = await export(client, encoded, content_type)
    assert not response_from(answer, content_type).HasField("partial_success")
    text = await metrics(client)
    labels = 'instance="pod-7",job="shop/billing",otel_scope_name="billing.meter"'
    assert sample(text, f'http_requests_total{{{labels},route="/pay"}}') == 42
    assert sample(text, f"cache_hit_ratio{{{labels}}}") == 0.5
    assert sample(text, 'target_info{instance="pod-7",job="shop/billing",region="eu"}') == 1


async def test_gzip_bodies_are_read_and_broken_ones_refused(client: Client) -> None:
    body = as_protobuf(request([counter("done", 3)]))
    await export(client, gzip.compress(body), PROTOBUF, headers=GZIP)
    assert "done_total" in await metrics(client)
    answer = await export(client, b"not gzip", PROTOBUF, 400, headers=GZIP)
    assert answer  # a google.rpc.Status
    await export(client, body, PROTOBUF, 415, headers={"Content-Encoding": "br"})


async def test_an_undecodable_body_is_a_400_naming_why(client: Client) -> None:
    answer = await export(client, b'{"resourceMetrics": 3}', JSON, 400)
    status = json.loads(answer)
    assert status["code"] == 3
    assert status["message"] == "body.resourceMetrics must be a JSON array"
    answer = await export(client, b'{"resourceMetrics": [{"resource": "text"}]}', JSON, 400)
    assert json.loads(answer)["message"] == "body.resourceMetrics[0].resource must be a JSON object"
    quantiles = {"summary": {"dataPoints": [{"quantileValues": [{"quantile": 0.5}, "text"]}]}}
    deep = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "q", **quantiles}]}]}]}
    answer = await export(client, json.dumps(deep).encode(), JSON, 400)
    assert json.loads(answer)["message"] == (
        "body.resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[0]"
        ".quantileValues[1] must be a JSON object"
    )
    await export(client, b"\xff\xff\xff", PROTOBUF, 400)
    point = {"timeUnixNano": "soon", "asDouble": 1}
    gauge = {
        "resourceMetrics": [{"scopeMetrics": [{"metrics": [{"gauge": {"dataPoints": [point]}}]}]}]
    }
    answer = await export(client, json.dumps(gauge).encode(), JSON, 400)
    assert "Failed to parse timeUnixNano field" in json.loads(answer)["message"]


async def test_other_content_types_are_415(client: Client) -> None:
    answer = await export(client, b"x 1\n", "text/plain", 415)
    assert "application/x-protobuf" in json.loads(answer)["message"]


async def test_a_body_inflating_beyond_the_limit_is_413(
    start: Callable[..., Awaitable[Client]],
) -> None:
    client = await start(max_body_bytes=10_000)
    body = as_protobuf(request([counter("padding", 1, note="x" * 50_000)]))
    await export(client, gzip.compress(body), PROTOBUF, 413, headers=GZIP)
    assert "padding" not in await metrics(client)


async def test_a_name_with_two_types_is_refused_point_by_point(client: Client) -> None:
    await export(client, as_json(request([gauge("jobs.done.total", 1)], service="a")), JSON)
    # In another group, the same name as a counter: refused; the other metric is stored.
    body = request([counter("jobs.done", 5), counter("rows", 7)], service="b")
    answer = response_from(await export(client, as_json(body), JSON), JSON)
    assert answer.partial_success.rejected_data_points == 1
    assert "jobs_done_total" in answer.partial_success.error_message
    text = await metrics(client)
    assert sample(text, 'rows_total{instance="",job="b",otel_scope_name="billing.meter"}') == 7
    assert 'jobs_done_total{instance="",job="b"' not in text


async def test_a_repeated_delta_export_is_not_counted_twice(client: Client) -> None:
    first = request([counter("sent", 5, temporality=DELTA, start=NOW_NS, time=NOW_NS + 10)])
    second = request([counter("sent", 2, temporality=DELTA, start=NOW_NS + 10, time=NOW_NS + 20)])
    for body in (first, second, second):
        answer = response_from(await export(client, as_protobuf(body), PROTOBUF), PROTOBUF)
    assert answer.partial_success.rejected_data_points == 1
    assert "already counted" in answer.partial_success.error_message
    text = await metrics(client)
    series = 'sent_total{instance="",job="billing",otel_scope_name="billing.meter"}'
    assert sample(text, series) == 7


async def test_unspecified_temporality_and_bad_histograms_are_refused_not_dropped(
    client: Client,
) -> None:
    histogram = {
        "name": "latency",
        "histogram": {
            "aggregationTemporality": 2,
            "dataPoints": [
                {"timeUnixNano": str(NOW_NS), "count": "3", "explicitBounds": [1, 2],
                 "bucketCounts": ["1", "2"]},
            ],
        },
    }  # fmt: skip
    unspecified = counter("lost", 1, temporality=0)
    body = request([histogram, unspecified, counter("kept", 1)])
    answer = response_from(await export(client, as_json(body), JSON), JSON)
    assert answer.partial_success.rejected_data_points == 2
    assert "2 bucket counts for 2 explicit bounds" in answer.partial_success.error_message
    assert "temporality is unspecified" in answer.partial_success.error_message
    assert "kept_total" in await metrics(client)


def token(name: str, jobs: tuple[str, ...]) -> Token:
    return Token(name, PUSH, hashlib.sha256(b"secret-" + name.encode()).hexdigest(), jobs)


async def test_the_push_role_s_job_patterns_apply(start: Callable[..., Awaitable[Client]]) -> None:
    client = await start(tokens=(token("etl", ("etl_*",)),))
    body = as_protobuf(request([counter("rows", 1)], service="billing"))
    await export(client, body, PROTOBUF, 401)
    bearer = {"Authorization": "Bearer secret-etl"}
    answer = await export(client, body, PROTOBUF, 403, headers=bearer)
    assert answer
    allowed = as_protobuf(request([counter("rows", 1)], service="etl_x"))
    await export(client, allowed, PROTOBUF, headers=bearer)


async def test_the_route_prefix_applies(start: Callable[..., Awaitable[Client]]) -> None:
    client = await start(route_prefix="/gateway")
    body = as_protobuf(request([counter("rows", 4)]))
    response = await client.post(
        "/gateway/v1/metrics", data=body, headers={"Content-Type": PROTOBUF}
    )
    assert response.status == 200
    text = await (await client.get("/gateway/metrics")).text()
    assert (
        sample(text, 'rows_total{instance="",job="billing",otel_scope_name="billing.meter"}') == 4
    )


async def test_cumulative_families_are_replaced_and_delta_ones_keep_their_series(
    client: Client,
) -> None:
    both = [counter("sent", 3, queue="a"), counter("sent", 4, queue="b")]
    await export(client, as_protobuf(request(both)), PROTOBUF)
    await export(client, as_protobuf(request([counter("sent", 5, queue="a")])), PROTOBUF)
    text = await metrics(client)
    labels = 'instance="",job="billing",otel_scope_name="billing.meter"'
    assert sample(text, f'sent_total{{{labels},queue="a"}}') == 5
    assert sample(text, f'sent_total{{{labels},queue="b"}}') is None  # as a POST replaces it

    def delta(value: int, queue: str, start: int) -> dict[str, object]:
        return counter("done", value, temporality=DELTA, start=start, time=start + 1, queue=queue)

    await export(client, as_protobuf(request([delta(3, "a", 0), delta(4, "b", 0)])), PROTOBUF)
    await export(client, as_protobuf(request([delta(5, "a", 1)])), PROTOBUF)
    text = await metrics(client)
    assert sample(text, f'done_total{{{labels},queue="a"}}') == 8
    assert sample(text, f'done_total{{{labels},queue="b"}}') == 4  # no change, no delta sent


async def test_an_export_is_timed_in_batchgate_s_own_metrics(client: Client) -> None:
    await export(client, as_protobuf(request([counter("rows", 1)])), PROTOBUF)
    text = await metrics(client)
    assert sample(text, 'batchgate_push_duration_seconds_count{endpoint="otlp"}') == 1
