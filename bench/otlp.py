"""OTLP/HTTP exports against batchgate's own Pushgateway push of the same series.

    python bench/otlp.py [--seconds 10] [--series 20] [--exports-only | --aggregating-only]
                         [--aiohttp-too]

One batchgate server; for a typical batch job's metrics (20 series) and a large one (10,000
series), 16 connections on loopback send the same body again and again: an OTLP export in
protobuf, the same export in OTLP's JSON, and the Pushgateway text push (POST) of the same
series. Requests/s, p50 and p99, and the ratio of each OTLP encoding to the Pushgateway push
(target: at least 0.5x). Then the resident memory per stored series, filling a fresh server
with 200 groups of 100 series through each door (target: OTLP at most 1.2x). Last, a POST of
the same Pushgateway body (counters) to an aggregating group and to a replacing one (target:
aggregating at most 1.5x the cost of replacing).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import urllib.request

from google.protobuf import json_format
from harness import Load, Server, batchgate, machine, wrk
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

SERIES_PER_METRIC = 10


def otlp_request(series: int, job: str, instance: str) -> ExportMetricsServiceRequest:
    """`series` gauge series: metrics `bench.metric.<m>` of 10 points (label `shard`)."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    for name, value in (("service.name", job), ("service.instance.id", instance)):
        attribute = resource.resource.attributes.add()
        attribute.key = name
        attribute.value.string_value = value
    scope = resource.scope_metrics.add()
    scope.scope.name = "bench"
    for number in range(series // SERIES_PER_METRIC):
        metric = scope.metrics.add()
        metric.name = f"bench.metric.{number}"
        metric.description = "A benchmark gauge."
        for shard in range(SERIES_PER_METRIC):
            point = metric.gauge.data_points.add()
            point.time_unix_nano = 1_800_000_000_000_000_000
            point.as_double = number * 1.5 + shard
            label = point.attributes.add()
            label.key = "shard"
            label.value.string_value = str(shard)
    return request


def pushgateway_text(series: int) -> bytes:
    """The same series as the Pushgateway text format (without OTLP's scope label)."""
    lines = []
    for number in range(series // SERIES_PER_METRIC):
        name = f"bench_metric_{number}"
        lines.append(f"# HELP {name} A benchmark gauge.\n# TYPE {name} gauge\n")
        lines.extend(
            f'{name}{{shard="{shard}"}} {number * 1.5 + shard}\n'
            for shard in range(SERIES_PER_METRIC)
        )
    return "".join(lines).encode()


def bodies(series: int) -> dict[str, tuple[str, str, bytes]]:
    """Per door: (path, content type, body), each in a group of its own."""
    protobuf = otlp_request(series, "otlp-protobuf", "i0").SerializeToString()
    as_json = json_format.MessageToJson(otlp_request(series, "otlp-json", "i0"), indent=None)
    return {
        "Pushgateway text (POST)": (
            "/metrics/job/pushgateway/instance/i0",
            "text/plain; version=0.0.4",
            pushgateway_text(series),
        ),
        "OTLP protobuf": ("/v1/metrics", "application/x-protobuf", protobuf),
        "OTLP JSON": ("/v1/metrics", "application/json", as_json.encode()),
    }


def send(server: Server, path: str, content_type: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{server.url}{path}", data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200, answer.read()


def load(server: Server, path: str, content_type: str, body: bytes, seconds: int) -> Load:
    send(server, path, content_type, body)  # the group exists before the load
    with tempfile.NamedTemporaryFile(suffix=".body") as file:
        file.write(body)
        file.flush()
        return wrk(
            server.url,
            "static_body",
            seconds,
            env={"BODY_FILE": file.name, "PATH_TO": path, "CONTENT_TYPE": content_type},
        )


def memory_per_series(door: str, groups: int = 200, series: int = 100) -> float:
    """Bytes of resident memory per series stored, on a fresh server filled through `door`."""
    with batchgate() as server:
        before = server.rss_bytes()
        for group in range(groups):
            if door == "otlp":
                body = otlp_request(series, "memory", f"i{group}").SerializeToString()
                send(server, "/v1/metrics", "application/x-protobuf", body)
            else:
                path = f"/metrics/job/memory/instance/i{group}"
                send(server, path, "text/plain; version=0.0.4", pushgateway_text(series))
        return (server.rss_bytes() - before) / (groups * series)


def counters_text(series: int) -> bytes:
    """`series` counters (label `shard`), each pushed as 1: a worker's increments."""
    lines = []
    for number in range(series // SERIES_PER_METRIC):
        name = f"bench_done_{number}"
        lines.append(f"# TYPE {name} counter\n")
        lines.extend(f'{name}{{shard="{shard}"}} 1\n' for shard in range(SERIES_PER_METRIC))
    return "".join(lines).encode()


def aggregating_against_replacing(seconds: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
        config.write("pushgateway:\n  aggregate:\n    - {job: 'summed_*'}\n")
        config.flush()
        print("\n| series | group | pushes/s | p50 ms | p99 ms | errors | cost vs replacing |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        with batchgate("--config", config.name) as server:
            for series in (20, 1_000):
                body = counters_text(series)
                rates = {}
                for group, path in (
                    ("replacing", "/metrics/job/replaced/instance/i0"),
                    ("aggregating", "/metrics/job/summed_up/instance/i0"),
                ):
                    result = load(server, path, "text/plain; version=0.0.4", body, seconds)
                    rates[group] = result.requests_per_second
                    cost = rates["replacing"] / result.requests_per_second
                    print(
                        f"| {series:,} | {group} | {result.requests_per_second:,.0f} | "
                        f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} | "
                        f"{cost:.2f}x (target <= 1.5x) |"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    parser.add_argument(
        "--series", type=int, action="append", help="series per body (20 and 10,000 unless given)"
    )
    parser.add_argument(
        "--exports-only", action="store_true", help="skip the memory and aggregating tables"
    )
    parser.add_argument(
        "--aggregating-only", action="store_true", help="only the aggregating table"
    )
    parser.add_argument(
        "--aiohttp-too",
        action="store_true",
        help="also export to a server with http.fast_path: false (OTLP through aiohttp)",
    )
    arguments = parser.parse_args()
    seconds = arguments.seconds
    print(f"Machine: {machine()}; wrk -t1 -c16 -d{seconds}s on loopback.")
    if arguments.aggregating_only:
        aggregating_against_replacing(seconds)
        return
    print()
    print("| series | door | requests/s | p50 ms | p99 ms | errors | vs Pushgateway push |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    with contextlib.ExitStack() as servers, tempfile.NamedTemporaryFile("w", suffix=".yaml") as off:
        off.write("http:\n  fast_path: false\n")
        off.flush()
        server = servers.enter_context(batchgate())
        slow = (
            servers.enter_context(batchgate("--config", off.name))
            if arguments.aiohttp_too
            else None
        )
        for series in arguments.series or (20, 10_000):
            baseline = 0.0
            doors = [(door, server, *request) for door, request in bodies(series).items()]
            if slow is not None:
                doors += [
                    (f"{door}, aiohttp only", slow, *request)
                    for door, request in bodies(series).items()
                    if door.startswith("OTLP")
                ]
            for door, target, path, content_type, body in doors:
                result = load(target, path, content_type, body, seconds)
                if not baseline:
                    baseline = result.requests_per_second
                ratio = result.requests_per_second / baseline
                print(
                    f"| {series:,} | {door} | {result.requests_per_second:,.0f} | "
                    f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} | "
                    f"{ratio:.2f}x (target >= 0.5x) |"
                )
    if arguments.exports_only:
        return
    pushed, exported = memory_per_series("pushgateway"), memory_per_series("otlp")
    print("\n| door | resident memory per stored series, bytes (200 groups x 100 series) |")
    print("| --- | ---: |")
    print(f"| Pushgateway text | {pushed:,.0f} |")
    print(f"| OTLP protobuf | {exported:,.0f} ({exported / pushed:.2f}x, target <= 1.2x) |")
    aggregating_against_replacing(seconds)


if __name__ == "__main__":
    main()
