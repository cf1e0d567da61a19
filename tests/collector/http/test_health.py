"""Health endpoints: /-/healthy, /-/ready, and /health with reasons."""

from __future__ import annotations

from tests.helpers import Client, get


async def test_it_is_healthy_and_ready_once_started(client: Client) -> None:
    assert (await client.get("/-/healthy")).status == 200
    ready = await client.get("/-/ready")
    assert (ready.status, await ready.text()) == (200, "OK\n")
    health = await get(client, "/health")
    assert health["status"] == "healthy"
    assert health["reasons"] == []
