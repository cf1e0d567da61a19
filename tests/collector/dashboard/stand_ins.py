"""Stand-ins for the alerting API and the Pushgateway API, for servers that do not have
them yet: small real handlers that keep to the documented contracts, added to a test app
only when its route table lacks them. Once the real APIs are on the branch, the browser
tests run against those instead, unchanged.

- `GET /alerts?state=&job=` -> `{"alerts": [{id, fingerprint, alertname, state, severity,
  silenced, silenced_by, job, labels, annotations, run_id, value, active_at, fired_at,
  resolved_at}]}`; `POST /silences` (Alertmanager's PostableSilence) -> `{"silenceID"}`,
  `GET /silences`, `DELETE /silences/{id}`; silences parsed and matched by `rules.silences`.
- `GET /api/v1/metrics` in the Pushgateway's shape, and `DELETE /metrics/job/<job>/...`.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from aiohttp import web

from batchgate.rules.payloads import format_time
from batchgate.rules.silences import InvalidSilence, Silence, parse_silence, silencing


def has_route(app: web.Application, path: str) -> bool:
    return any(
        route.resource is not None and route.resource.canonical == path
        for route in app.router.routes()
    )


class AlertingStandIn:
    def __init__(self, alerts: list[dict[str, Any]]) -> None:
        self.alerts = alerts
        self.silences: dict[str, Silence] = {}

    def install(self, app: web.Application) -> None:
        app.router.add_get("/alerts", self.get_alerts)
        app.router.add_post("/silences", self.post_silence)
        app.router.add_get("/silences", self.get_silences)
        app.router.add_delete("/silences/{id}", self.delete_silence)

    async def get_alerts(self, request: web.Request) -> web.Response:
        states = set(request.query.get("state", "firing,pending").split(","))
        job = request.query.get("job")
        now = time.time()
        shown = []
        for alert in self.alerts:
            if alert["state"] not in states or (job and alert["job"] != job):
                continue
            silenced_by = silencing(self.silences.values(), alert["labels"], now)
            shown.append({**alert, "silenced": bool(silenced_by), "silenced_by": silenced_by})
        return web.json_response({"alerts": shown})

    async def post_silence(self, request: web.Request) -> web.Response:
        try:
            silence = parse_silence(await request.json(), new_id=uuid.uuid4().hex, now=time.time())
        except InvalidSilence as error:
            details = [e.to_dict() for e in error.errors]
            return web.json_response({"error": str(error), "details": details}, status=400)
        self.silences[silence.id] = silence
        return web.json_response({"silenceID": silence.id})

    async def get_silences(self, request: web.Request) -> web.Response:
        now = time.time()
        return web.json_response([silence.to_dict(now) for silence in self.silences.values()])

    async def delete_silence(self, request: web.Request) -> web.Response:
        silence = self.silences.get(request.match_info["id"])
        if silence is None:
            return web.json_response({"error": "no such silence", "details": []}, status=404)
        self.silences[silence.id] = silence.expire(time.time())
        return web.Response(status=200)


def alert(alertname: str, job: str, state: str, **extra: Any) -> dict[str, Any]:
    """An alert as GET /alerts shows it."""
    now = time.time()
    labels = {"alertname": alertname, "job": job, "severity": "warning", **extra.pop("labels", {})}
    return {
        "id": uuid.uuid4().hex,
        "fingerprint": uuid.uuid4().hex[:16],
        "alertname": alertname,
        "state": state,
        "severity": labels["severity"],
        "job": job,
        "labels": labels,
        "annotations": {"summary": f"{job}: {alertname}"},
        "run_id": extra.pop("run_id", None),
        "value": None,
        "active_at": format_time(now - 600),
        "fired_at": format_time(now - 300) if state != "pending" else None,
        "resolved_at": format_time(now - 60) if state == "resolved" else None,
        **extra,
    }


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
