"""POST /push refuses bad input with a 4xx naming the field and the reason, applies nothing
of a refused push, and keeps serving with what was stored intact."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Client, checked, get, push

GOOD = {"job": "backup", "event": "start", "run_id": "good-1"}


@pytest.mark.parametrize(
    ("event", "field", "reason"),
    [
        ({"event": "start"}, "job", "is required"),
        ({"job": "bad/job", "event": "start"}, "job", "must not contain '/'"),
        ({"job": "backup"}, "event", "is required"),
        ({"job": "backup", "event": "explode"}, "event", "must be one of"),
        ({"job": "backup", "event": "start", "run_id": "-x"}, "run_id", "must be 1-128"),
        ({"job": "backup", "event": "start", "labels": {"__x": "1"}}, "labels.__x", "label name"),
        ({"job": "backup", "event": "start", "labels": {"job": "x"}}, "labels.job", "job's name"),
        ({"job": "backup", "event": "start", "labels": {"h": 1}}, "labels.h", "must be a string"),
        ({"job": "backup", "event": "progress", "progress": {"done": -1}}, "progress.done",
         "must not be negative"),
        ({"job": "backup", "event": "progress", "progress": {"percent": 101}}, "progress.percent",
         "between 0 and 100"),
        ({"job": "backup", "event": "progress", "progress": {"done": True}}, "progress.done",
         "must be a number"),
        ({"job": "backup", "event": "progress", "progress": {"rows": 1}}, "progress.rows",
         "unknown field"),
        ({"job": "backup", "event": "progress", "resources": {"memory_bytes": "1G"}},
         "resources.memory_bytes", "must be a number"),
        ({"job": "backup", "event": "progress", "metrics": {"rows-read": 1}}, "metrics.rows-read",
         "name must match"),
        ({"job": "backup", "event": "fail", "exit_code": 1.5}, "exit_code", "must be an integer"),
        ({"job": "backup", "event": "start", "timestamp": "yesterday"}, "timestamp", "RFC 3339"),
        ({"job": "backup", "event": "start", "timestamp": "2024-01-01T00:00:00"}, "timestamp",
         "time zone"),
        ({"job": "backup", "event": "start", "colour": "red"}, "colour", "unknown field"),
        ({"job": "backup", "event": "success", "duration_seconds": -5}, "duration_seconds",
         "must not be negative"),
        ({"job": "backup", "event": "start", "labels": {"status": "x"}}, "labels.status",
         "reserved"),
        ({"job": "backup", "event": "success", "duration_seconds": 1e12}, "duration_seconds",
         "before 1970"),
        ({"job": "backup", "event": "start", "timestamp": "0186-07-08T05:18:20Z"}, "timestamp",
         "before 1970"),
    ],
)  # fmt: skip
async def test_it_names_the_field_and_the_reason(
    client: Client, event: dict[str, Any], field: str, reason: str
) -> None:
    refused = await push(client, event, 400)
    (detail,) = refused["details"]
    assert detail["index"] == 0
    assert detail["field"] == field
    assert reason in detail["reason"]


async def test_it_refuses_a_timestamp_far_in_the_future(client: Client) -> None:
    from tests.helpers import Clock

    future = Clock().now + 3600
    refused = await push(client, {**GOOD, "timestamp": future}, 400)
    assert refused["details"][0]["field"] == "timestamp"
    assert "in the future" in refused["details"][0]["reason"]


async def test_it_applies_nothing_of_a_push_with_one_bad_event(client: Client) -> None:
    refused = await push(
        client, [GOOD, {"job": "etl", "event": "start"}, {"job": "x", "event": "nope"}], 400
    )
    assert [(d["index"], d["field"]) for d in refused["details"]] == [(2, "event")]
    assert (await get(client, "/jobs"))["jobs"] == []
    assert (await client.get("/runs/good-1")).status == 404


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"job": "a", "event": "progress", "progress": {"done": NaN}}', "application/json", 400,
         "NaN is not a valid JSON number"),
        (b"\xff\xfe", "application/json", 400, "not"),
        (b"[]", "application/json", 400, "empty array"),
        (b'"start"', "application/json", 400, "event object or an array"),
        (b'{"job": "a", "event": "start"}', "text/plain", 415, "application/json"),
    ],
)  # fmt: skip
async def test_it_answers_malformed_bodies_with_a_clear_4xx(
    client: Client, body: bytes, content_type: str, status: int, needle: str
) -> None:
    response = await client.post("/push", data=body, headers={"Content-Type": content_type})
    refused = await checked(response, status)
    assert needle in refused["error"]


async def test_it_refuses_an_oversize_body_and_keeps_serving(start: Any) -> None:
    client = await start(max_body_bytes=1024)
    await push(client, GOOD)
    big = [{"job": "big", "event": "progress", "message": "x" * 100} for _ in range(20)]
    response = await client.post("/push", json=big)
    refused = await checked(response, 413)
    assert "1024" in refused["error"]
    (job,) = (await get(client, "/jobs"))["jobs"]
    assert job["job"] == "backup"


async def test_it_refuses_more_events_than_the_limit(start: Any) -> None:
    from batchgate.collector.core.events import PushLimits

    client = await start(limits=PushLimits(max_events=3))
    refused = await push(client, [GOOD] * 4, 400)
    assert "max_events_per_push" in refused["error"]


async def test_it_keeps_what_was_stored_when_bad_pushes_arrive(client: Client) -> None:
    await push(client, {**GOOD, "progress": {"done": 5}})
    bad_pushes = [
        {"job": "backup", "event": "progress", "run_id": "good-1", "progress": {"done": "many"}},
        {"job": "backup", "event": "fail", "run_id": "good-1", "exit_code": "1"},
    ]
    for bad in bad_pushes:
        await push(client, bad, 400)
    run = await get(client, "/runs/good-1")
    assert run["status"] == "running"
    assert run["progress"]["done"] == 5


async def test_it_reads_a_gzipped_push_and_refuses_a_gzip_bomb(start: Any) -> None:
    import gzip
    import json

    client = await start(max_body_bytes=10_000)
    body = gzip.compress(json.dumps(GOOD).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert (await client.post("/push", data=body, headers=headers)).status == 200
    bomb = gzip.compress(b" " * 1_000_000 + json.dumps(GOOD).encode())
    refused = await checked(await client.post("/push", data=bomb, headers=headers), 413)
    assert "inflates to more than 10000 bytes" in refused["error"]
    broken = await checked(await client.post("/push", data=body[:-6], headers=headers), 400)
    assert "not valid gzip" in broken["error"]


async def test_it_counts_the_refused_events_in_words(client: Client) -> None:
    one_bad = [{"job": "a", "event": "start"}, {"job": "a/b", "event": "start"}]
    two_bad = [{"job": "a/b", "event": "start"}, {"event": "start"}]
    assert (await checked(await client.post("/push", json=one_bad), 400))["error"] == (
        "invalid push: 1 event rejected, nothing applied"
    )
    assert (await checked(await client.post("/push", json=two_bad), 400))["error"] == (
        "invalid push: 2 events rejected, nothing applied"
    )


async def test_a_long_message_is_cut_not_refused_and_the_cut_is_marked(client: Client) -> None:
    long = "é" * 10_000  # 20,000 bytes
    await push(client, {"job": "etl", "event": "fail", "run_id": "r1", "message": long})
    kept = (await get(client, "/runs/r1"))["message"]
    assert len(kept) <= 4096
    assert kept.startswith("é" * 4000)
    cut = len(long) - kept.index("…")
    assert kept.endswith(f"… [truncated {2 * cut:,} bytes]")
