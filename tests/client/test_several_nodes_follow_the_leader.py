"""Several collector URLs (`BATCHGATE_URL=http://a:9091,http://b:9091`): events go to
whichever node leads. A standby (503 naming the leader) or a node that does not answer is
passed over; the spool keeps events while no node takes them, across the switch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from batchgate import Connection, Job, client
from tests.client.conftest import Receiver, fast_connection, free_port, wait_until


class Standby:
    """A small real server answering every push as a batchgate standby does."""

    def __init__(self, leader_url: str) -> None:
        self.requests = 0
        standby = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                standby.requests += 1
                body = json.dumps(
                    {
                        "error": f"this node is a standby; the leader is at {leader_url}",
                        "details": [{"leader": "alpha", "leader_url": leader_url}],
                    }
                ).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "2")
                self.send_header("Batchgate-Leader", leader_url)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def leader() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def standby(leader: Receiver) -> Iterator[Standby]:
    server = Standby(leader.url)
    yield server
    server.stop()


def test_several_urls_are_read_from_the_environment() -> None:
    connection = Connection.resolve(
        environ={"BATCHGATE_URL": "http://a:9091, http://b:9091/ ,", "BATCHGATE_SPOOL_DIR": "off"}
    )
    assert connection.push_urls == ["http://a:9091/push", "http://b:9091/push"]
    assert connection.push_url == "http://a:9091/push"


def test_it_follows_a_standby_to_the_leader(leader: Receiver, standby: Standby) -> None:
    connection = fast_connection(f"{standby.url},{leader.url}")
    with Job("etl", connection=connection, heartbeat=None):
        pass
    client.flush()
    assert [event["event"] for event in leader.events] == ["start", "success"]
    assert standby.requests == 1  # asked once; the leader thereafter


def test_it_passes_over_a_node_that_does_not_answer(leader: Receiver) -> None:
    connection = fast_connection(f"http://127.0.0.1:{free_port()},{leader.url}", timeout=1.0)
    with Job("etl", connection=connection, heartbeat=None):
        pass
    client.flush()
    assert [event["event"] for event in leader.events] == ["start", "success"]


def test_events_wait_in_the_spool_while_no_node_leads_and_go_to_the_new_leader(
    leader: Receiver,
) -> None:
    """Both nodes standbys at first (the leader is not yet elected): nothing is lost."""
    port = free_port()
    first = Standby(f"http://127.0.0.1:{port}")
    second = Standby(f"http://127.0.0.1:{port}")
    try:
        connection = fast_connection(f"{first.url},{second.url},{leader.url}")
        leader.script.extend([(503, {"error": "no node leads right now"})] * 2)
        with Job("etl", connection=connection, heartbeat=None):
            pass
        client.flush()
        wait_until(lambda: len(leader.events) == 2, 10, "events at the leader")
    finally:
        first.stop()
        second.stop()
    assert [event["event"] for event in leader.events] == ["start", "success"]
