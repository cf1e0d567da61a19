"""Limits: each answered with a 4xx naming the limit, with nothing applied."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.helpers import Client, checked, get, push

Start = Callable[..., Awaitable[Client]]


async def test_the_job_limit_refuses_new_jobs_but_not_known_ones(start: Start) -> None:
    client = await start(max_jobs=2)
    await push(client, [{"job": "a", "event": "start"}, {"job": "b", "event": "start"}])
    refused = await push(client, [{"job": "a", "event": "progress"},
                                  {"job": "c", "event": "start"}], 429)  # fmt: skip
    assert "limits.max_jobs" in refused["error"]
    await push(client, {"job": "a", "event": "success"})
    assert [j["job"] for j in (await get(client, "/jobs"))["jobs"]] == ["a", "b"]


async def test_the_group_limit_refuses_new_groups(start: Start) -> None:
    client = await start(max_groups=1)
    ok = await client.put("/metrics/job/first", data=b"g 1\n")
    assert ok.status == 200
    refused = await client.put("/metrics/job/second", data=b"g 1\n")
    assert refused.status == 429
    assert "limits.max_groups" in await refused.text()
    again = await client.put("/metrics/job/first", data=b"g 2\n")
    assert again.status == 200, "an existing group can still be pushed"


async def test_the_listener_limit_refuses_one_more_live_client(start: Start) -> None:
    client = await start(max_event_listeners=1)
    first = await client.get("/events")
    assert first.status == 200
    await first.content.readline()  # connected
    refused = await checked(await client.get("/events"), 429)
    assert "limits.max_event_listeners" in refused["error"]
    first.close()
