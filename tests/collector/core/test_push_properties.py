"""Hostile input to POST /push: whatever arrives, the answer is never a 5xx, and a refused
push changes nothing of what was stored."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Client, get, push

FIELDS = [
    "job", "labels", "event", "run_id", "event_id", "timestamp", "progress", "resources",
    "metrics", "message", "exit_code", "duration_seconds", "lost_after",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["start", "progress", "success", "fail", "cancel", "etl", "r1", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Events that are plausible enough to reach deep into validation and application.
events = st.fixed_dictionaries(
    {},
    optional={
        name: json_values
        | st.sampled_from(["etl", "start", "success", "r1", "2024-01-01T00:00:00Z"])
        | st.dictionaries(
            st.sampled_from(["done", "total", "percent", "errors", "cpu_percent", "env"]),
            scalars,
            max_size=3,
        )
        for name in FIELDS
    },
)
bodies = st.one_of(events, st.lists(events, min_size=0, max_size=5), json_values)

SETTLED = {"job": "kept", "event": "start", "run_id": "kept-1", "progress": {"done": 7}}


async def _snapshot(client: Client) -> Any:
    return (await get(client, "/jobs"))["jobs"], await get(client, "/runs/kept-1")


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
async def test_no_json_body_gets_a_5xx_or_damages_state(client: Client, body: Any) -> None:
    await push(client, SETTLED)
    before = await _snapshot(client)
    response = await client.post("/push", json=body)
    assert response.status < 500, await response.text()
    if response.status != 200:
        assert await _snapshot(client) == before
        answer = await response.json()
        assert answer["error"]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
async def test_no_byte_string_gets_a_5xx(client: Client, raw: bytes) -> None:
    response = await client.post("/push", data=raw, headers={"Content-Type": "application/json"})
    assert response.status < 500, await response.text()


async def test_a_deeply_nested_body_is_refused_cleanly(client: Client) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    response = await client.post(
        "/push", data=nested.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "body is not valid JSON: nested too deeply"
