"""Across a takeover after `kill -9` of the leader: a failure alert raised before it is not
notified again, a failure during the switch is notified (once, twice at most if it was in
flight), a run started on the old leader finishes on the new one, and a Pushgateway group
pushed to the old leader is on the new one's /metrics."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.ha.conftest import MakeNode
from tests.collector.ha.nodes import HaNode, request, wait_until
from tests.helpers import free_port

GROUP = b'# TYPE backup_bytes gauge\nbackup_bytes{disk="a"} 1234\n'


class Receiver(http.server.ThreadingHTTPServer):
    """A real webhook receiver on a loopback port: records every notification's alerts as
    (job, status)."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, str]] = []
        self.url = ""
        super().__init__(("127.0.0.1", free_port()), _Hook)
        self.url = f"http://127.0.0.1:{self.server_port}/hook"

    def count(self, job: str, status: str = "firing") -> int:
        return self.notified.count((job, status))


class _Hook(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for alert in body["alerts"]:
            self.server.notified.append((alert["labels"]["job"], alert["status"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def push_to_the_leader(nodes: list[HaNode], body: Any, within: float = 20.0) -> HaNode:
    """Push as the SDK does with several URLs: to whichever node acknowledges it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for node in nodes:
            try:
                status, _, _ = request("POST", f"{node.url}/push", body)
            except OSError:
                continue
            if status == 200:
                return node
        time.sleep(0.05)
    raise AssertionError(f"no node acknowledged {body} within {within}s")


def delivered(node: HaNode) -> float:
    """Notifications the node has delivered (answered 2xx), from its /metrics."""
    for line in node.get("/metrics")[1].splitlines():
        if line.startswith("batchgate_notifications_total{") and 'outcome="delivered"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_takeover_notifies_what_is_new_once_and_nothing_again(
    make_node: MakeNode, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "batchgate.yaml"
    config.write_text(
        "evaluation_interval: 100ms\n"
        "notifications: {retry_initial: 50ms, retry_max: 200ms}\n"
        f'receivers:\n  - {{name: ops, webhook: {{url: "{receiver.url}"}}}}\n'
    )
    alpha = make_node("alpha", 1.0, "--config", str(config))
    wait_until(lambda: alpha.status("/-/ready") == 200, 10, "alpha ready", alpha)
    beta = make_node("beta", 1.0, "--config", str(config))
    wait_until(lambda: beta.role() == "standby", 10, "beta a standby", beta)
    nodes = [alpha, beta]

    assert push_to_the_leader(nodes, {"job": "long", "event": "start", "run_id": "long-1"}) is alpha
    started_at = alpha.get("/runs/long-1")[1]["started_at"]
    push_to_the_leader(nodes, {"job": "nightly", "event": "fail", "message": "disk full"})
    status, _, _ = request("PUT", f"{alpha.url}/metrics/job/backup/host/db1", data=GROUP)
    assert status == 200
    wait_until(lambda: delivered(alpha) == 1, 10, "nightly notified", alpha)
    # The delivery is recorded (its outbox row deleted) in alpha's next commit: the next
    # push acknowledged is committed with it. Before that, a kill leaves the notification
    # in flight, and the new leader sends it again (at least once, never lost).
    push_to_the_leader(nodes, {"job": "long", "event": "progress", "run_id": "long-1"})
    assert receiver.count("nightly") == 1

    alpha.kill()
    # A failure during the switch: acknowledged by whichever node leads by then.
    assert push_to_the_leader(nodes, {"job": "during", "event": "fail"}) is beta
    wait_until(lambda: receiver.count("during") >= 1, 10, "the failure during the switch "
               "notified", beta)  # fmt: skip
    # The new leader's first passes are done (they notified `during`): none re-notified
    # the alert alpha had sent, which beta restored as firing.
    assert receiver.count("nightly") == 1, receiver.notified
    assert receiver.count("during") <= 2
    alerts = {a["labels"]["job"]: a for a in beta.get("/alerts")[1]["alerts"]}
    assert alerts["nightly"]["state"] == "firing"

    # The run started on alpha finishes on beta, timed from its start on alpha.
    finish = {"job": "long", "event": "success", "run_id": "long-1"}
    assert push_to_the_leader(nodes, finish) is beta
    run = beta.get("/runs/long-1")[1]
    assert run["status"] == "succeeded"
    assert run["started_at"] == started_at
    assert run["duration_seconds"] > 0

    metrics = beta.get("/metrics")[1]
    assert 'backup_bytes{disk="a",host="db1",instance="",job="backup"} 1234' in metrics
