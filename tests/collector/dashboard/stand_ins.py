"""A stand-in for the Pushgateway API, for a server that does not have it: small real
handlers that keep to its documented contract (`GET /api/v1/metrics` in the Pushgateway's
shape, and `DELETE /metrics/job/<job>/...`), added to a test app only when its route table
lacks them. (The alerting API needs none: the pages render alerts on the server.)
"""

from __future__ import annotations

import base64
import time
from typing import Any

from aiohttp import web

from batchgate.rules.payloads import format_time


def has_route(app: web.Application, path: str) -> bool:
    return any(
        route.resource is not None and route.resource.canonical == path
        for route in app.router.routes()
    )


class PushgatewayStandIn:
    def __init__(self) -> None:
        self.groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def install(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/metrics", self.get_metrics)
        app.router.add_delete("/metrics/job/{rest:.*}", self.delete_group)

    def push(self, labels: dict[str, str], families: dict[str, str]) -> None:
        """A group as a PUT of gauges named in `families` (name -> help) would leave it."""
        pushed = time.time()
        group: dict[str, Any] = {"labels": labels, "last_push_successful": True}
        for name, value in (("push_time_seconds", pushed), ("push_failure_time_seconds", 0)):
            group[name] = _family("GAUGE", "", labels, value)
        for name, text in families.items():
            group[name] = _family("GAUGE", text, labels, 1.0)
        self.groups[tuple(sorted(labels.items()))] = group

    async def get_metrics(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "success", "data": list(self.groups.values())})

    async def delete_group(self, request: web.Request) -> web.Response:
        parts = ["job", *request.match_info["rest"].split("/")]
        labels = {}
        for name, value in zip(parts[::2], parts[1::2], strict=True):
            if name.endswith("@base64"):
                name = name.removesuffix("@base64")
                value = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            labels[name] = value
        self.groups.pop(tuple(sorted(labels.items())), None)
        return web.Response(status=202)


def _family(kind: str, text: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    return {
        "time_stamp": format_time(time.time()),
        "type": kind,
        "help": text,
        "metrics": [{"labels": labels, "value": repr(float(value))}],
    }
