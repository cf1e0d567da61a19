"""What a standby answers: `/-/healthy` 200, `/-/ready` 503, `/health` with its role and the
leader, `/metrics` with its own metrics (`batchgate_leader 0`, no job series: those come
from the leader alone), and to everything else a 503 with `Retry-After` and the leader's
advertised URL, so that load balancers, Prometheus and the SDK find the leader.

Pushes are refused by the ingest service itself (`Ingest.not_leader`), so the front door,
which calls it without aiohttp's middlewares, refuses them alike.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from batchgate.collector.http.keys import REGISTRY
from batchgate.collector.ingest import Refused
from batchgate.collector.leadership import Leadership, Node

LEADERSHIP = web.AppKey("leadership", Leadership)
NODE = web.AppKey("node", Node)

SERVED_ON_STANDBY: Final = frozenset({"healthy", "ready", "health"})
"""Routes a standby answers as the leader would (their handlers know the role)."""

RETRY_AFTER_SECONDS = "2"
LEADER_HEADER = "Batchgate-Leader"
"""The leader's advertised URL, in a standby's 503s (also in the JSON body)."""


def standby_refusal(leadership: Leadership) -> Refused:
    """The 503 a standby answers: who leads, and where."""
    if leadership.leader_name:
        message = (
            f"this node ({leadership.node_name}) is a standby; the leader is "
            f"{leadership.leader_name} at {leadership.leader_url}"
        )
    else:
        message = f"this node ({leadership.node_name}) is a standby; no node leads right now"
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if leadership.leader_url:
        headers[LEADER_HEADER] = leadership.leader_url
    leader = {"leader": leadership.leader_name or None, "leader_url": leadership.leader_url or None}
    return Refused(503, message, [leader], headers)


def serves(app: web.Application) -> bool:
    """Whether this node answers every route: it leads and its live state is restored."""
    node = app[NODE]
    return node.serving and node.leadership.leads


def standby_metrics(app: web.Application) -> web.Response:
    """A standby's /metrics: the node's own metrics only."""
    body = generate_latest(app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
