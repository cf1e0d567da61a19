"""POST, GET and DELETE /silences in Alertmanager's API v2 shape, held to the OpenAPI document;
silences are persisted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from batchgate.rules.payloads import format_time
from tests.helpers import Client, Clock, checked, get

Start = Callable[..., Awaitable[Client]]


def _body(clock: Clock, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "matchers": [
            {"name": "job", "value": "etl_.*", "isRegex": True},
            {"name": "env", "value": "dev", "isRegex": False, "isEqual": False},
        ],
        "startsAt": format_time(clock.now),
        "endsAt": format_time(clock.now + 7200),
        "createdBy": "alice",
        "comment": "migrating the ETL database",
    }
    body.update(changes)
    return body


async def test_it_creates_lists_gets_and_expires_silences(start: Start, clock: Clock) -> None:
    client = await start()
    created = await checked(await client.post("/silences", json=_body(clock)))
    silence_id = created["silenceID"]

    listed = await get(client, "/silences")
    assert [s["id"] for s in listed] == [silence_id]
    silence = await get(client, f"/silences/{silence_id}")
    assert silence["status"] == {"state": "active"}
    assert silence["matchers"] == [
        {"name": "job", "value": "etl_.*", "isRegex": True, "isEqual": True},
        {"name": "env", "value": "dev", "isRegex": False, "isEqual": False},
    ]
    assert (silence["createdBy"], silence["comment"]) == ("alice", "migrating the ETL database")
    assert silence["startsAt"] == format_time(clock.now)

    clock.advance(60)
    expired = await checked(await client.delete(f"/silences/{silence_id}"))
    assert expired["status"] == {"state": "expired"}
    assert expired["endsAt"] == format_time(clock.now)
    assert (await get(client, "/silences"))[0]["status"]["state"] == "expired"


async def test_it_keeps_silences_across_restarts(start: Start, clock: Clock) -> None:
    client = await start()
    created = await checked(await client.post("/silences", json=_body(clock)))
    before = await get(client, "/silences")
    await client.close()

    client = await start()
    assert await get(client, "/silences") == before
    assert before[0]["id"] == created["silenceID"]


async def test_it_updates_a_silence_given_its_id(start: Start, clock: Clock) -> None:
    client = await start()
    silence_id = (await checked(await client.post("/silences", json=_body(clock))))["silenceID"]
    again = _body(clock, id=silence_id, comment="longer")
    assert (await checked(await client.post("/silences", json=again)))["silenceID"] == silence_id
    assert [s["comment"] for s in await get(client, "/silences")] == ["longer"]
    unknown = await checked(await client.post("/silences", json=_body(clock, id="nope")), 404)
    assert unknown["details"][0]["field"] == "id"


async def test_it_names_each_bad_field(start: Start, clock: Clock) -> None:
    client = await start()
    bad = _body(
        clock,
        matchers=[{"name": "9job", "value": "x", "isRegex": "yes"}],
        endsAt=format_time(clock.now - 10),
        createdBy="",
        surprise=1,
    )
    answer = await checked(await client.post("/silences", json=bad), 400)
    fields = {detail["field"] for detail in answer["details"]}
    assert fields >= {
        "matchers[0].name",
        "matchers[0].isRegex",
        "endsAt",
        "createdBy",
        "surprise",
    }
    everything = _body(clock, matchers=[{"name": "job", "value": ".*", "isRegex": True}])
    answer = await checked(await client.post("/silences", json=everything), 400)
    assert answer["details"][0]["field"] == "matchers"
    answer = await checked(await client.post("/silences", data=b"{", headers={}), 400)
    assert answer["details"] == [{"field": "body", "reason": "not JSON"}]
    assert (await get(client, "/silences")) == []


async def test_unknown_silences_are_404(start: Start) -> None:
    client = await start()
    await checked(await client.get("/silences/nope"), 404)
    await checked(await client.delete("/silences/nope"), 404)
