"""A real webhook receiver for tests: a small aiohttp server on a loopback port that records
what it is sent, and can be told to fail, to hang, or to go away and come back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.helpers import free_port, until


class WebhookReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[dict[str, Any]] = []
        """Bodies of the requests answered 200, in order."""
        self.headers: list[dict[str, str]] = []
        """Their headers."""
        self.refused = 0
        self.status = 200
        """What to answer; anything but 2xx records nothing."""
        self.hang = False
        """When true, requests are held until `release()` (or the client gives up)."""
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hang:
            await self._released.wait()
        if self.status >= 300:
            self.refused += 1
            return web.Response(status=self.status, text="not now")
        self.received.append(json.loads(body))
        self.headers.append(dict(request.headers))
        return web.Response(text="ok")

    def release(self) -> None:
        self.hang = False
        self._released.set()

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/api/v2/alerts", self._hook)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            self._released.set()
            await self._runner.cleanup()
            self._runner = None

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every message received, in order."""
        return [alert for message in self.received for alert in message["alerts"]]

    async def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` messages have arrived; returns them."""

        async def arrived() -> bool:
            return len(self.received) >= count

        await until(arrived, within)
        return self.received
