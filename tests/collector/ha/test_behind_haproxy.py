"""Two nodes behind a real load balancer, Debian's haproxy, health-checking /-/ready (200 on
the leader alone): clients that know one URL, haproxy's, push; the leader is killed
(kill -9); haproxy takes it out after one failed check, the standby takes the lease and its
/-/ready turns 200, haproxy puts it in, and pushes are accepted again through the same URL.
Every push haproxy answered 2xx, before and after, is in the new leader's history: runs
pushed to /push, and Pushgateway groups on its /metrics."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector.ha.conftest import MakeNode
from tests.collector.ha.nodes import HaNode, request, wait_until
from tests.helpers import free_port, need_program

BEFORE = 50
"""Pushes acknowledged through haproxy before the kill, and as many after the takeover."""
ACCEPTED_AGAIN_WITHIN = 15.0
"""Seconds allowed from the kill to a push through haproxy answered 2xx again (lease 1 s,
checks every 200 ms)."""


def haproxy_config(port: int, nodes: list[HaNode]) -> str:
    servers = "".join(f"    server {node.name} 127.0.0.1:{node.port}\n" for node in nodes)
    return f"""\
global
    maxconn 256

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s

frontend batchgate
    bind 127.0.0.1:{port}
    default_backend batchgate_leader

backend batchgate_leader
    option httpchk GET /-/ready
    http-check expect status 200
    default-server check inter 200ms fall 1 rise 1
{servers}"""


@pytest.fixture
def haproxy() -> str:
    return need_program("haproxy")


class Haproxy:
    def __init__(self, program: str, root: Path, nodes: list[HaNode]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, nodes))
        self.log = root / "haproxy.log"
        self.command = [program, "-db", "-f", str(self.config)]
        self.program = program
        self.process: subprocess.Popen[bytes] | None = None

    def check(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.program, "-c", "-f", str(self.config)],
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip

    def __enter__(self) -> Haproxy:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Pusher:
    """One client, pushing to one URL, one request at a time, by turns a run (start and
    success in one push) and a Pushgateway group (a gauge of its number); remembers what
    was answered 2xx."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.number = 0
        self.acknowledged: list[str] = []
        """Run ids, and `group-N` for Pushgateway groups."""
        self.refused: dict[str, int] = {}

    def push(self) -> bool:
        number, self.number = self.number, self.number + 1
        if number % 2:
            name = f"group-{number}"
            method, path = "PUT", f"/metrics/job/behind_haproxy_groups/push/{number}"
            data: bytes | None = f"# TYPE pushed gauge\npushed {number}\n".encode()
            body = None
        else:
            name, method, path, data = f"lb-{number}", "POST", "/push", None
            body = [{"job": "behind_haproxy", "event": "start", "run_id": name},
                    {"job": "behind_haproxy", "event": "success", "run_id": name}]  # fmt: skip
        try:
            status, _, _ = request(method, self.url + path, body, timeout=3.0, data=data)
        except OSError as error:
            self.refused[type(error).__name__] = self.refused.get(type(error).__name__, 0) + 1
            return False
        if 200 <= status < 300:
            self.acknowledged.append(name)
            return True
        self.refused[str(status)] = self.refused.get(str(status), 0) + 1
        return False

    def missing_from(self, node: HaNode) -> list[str]:
        """What was acknowledged and the node does not have: runs not succeeded, groups
        not on its /metrics."""
        metrics = node.get("/metrics")[1]
        missing = []
        for name in self.acknowledged:
            if name.startswith("group-"):
                number = name.removeprefix("group-")
                series = (f'pushed{{instance="",job="behind_haproxy_groups",push="{number}"}} '
                          f"{number}")  # fmt: skip
                if series not in metrics:
                    missing.append(name)
                continue
            status, body, _ = node.get(f"/runs/{name}")
            if status != 200 or body.get("status") != "succeeded":
                missing.append(name)
        return missing

    def push_until_acknowledged(self, count: int, within: float) -> None:
        """Push until `count` more pushes are acknowledged; AssertionError after `within` s."""
        wanted = len(self.acknowledged) + count
        deadline = time.monotonic() + within
        while len(self.acknowledged) < wanted:
            assert time.monotonic() < deadline, (
                f"{len(self.acknowledged)} of {wanted} pushes acknowledged within {within}s; "
                f"refused: {self.refused}"
            )
            if not self.push():
                time.sleep(0.05)


@pytest.fixture
def balancer(
    haproxy: str, make_node: MakeNode, tmp_path: Path
) -> Iterator[tuple[Haproxy, HaNode, HaNode]]:
    alpha = make_node("alpha")
    wait_until(lambda: alpha.status("/-/ready") == 200, 10, "alpha ready", alpha)
    beta = make_node("beta")
    wait_until(lambda: beta.role() == "standby", 10, "beta a standby", beta)
    with Haproxy(haproxy, tmp_path, [alpha, beta]) as proxy:
        yield proxy, alpha, beta


def test_the_config_is_valid_for_haproxy(balancer: tuple[Haproxy, HaNode, HaNode]) -> None:
    proxy, _, _ = balancer
    result = proxy.check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_pushes_through_haproxy_survive_the_leader_killed(
    balancer: tuple[Haproxy, HaNode, HaNode],
) -> None:
    proxy, alpha, beta = balancer
    pusher = Pusher(proxy.url)
    pusher.push_until_acknowledged(BEFORE, 20)
    before = list(pusher.acknowledged)
    refused_before = dict(pusher.refused)

    killed_at = time.monotonic()
    alpha.kill()
    pusher.push_until_acknowledged(1, ACCEPTED_AGAIN_WITHIN)
    accepted_again = time.monotonic() - killed_at
    pusher.push_until_acknowledged(BEFORE - 1, 20)
    print(f"through haproxy: accepted again {accepted_again:.2f} s after kill -9; "
          f"refused before the kill {refused_before}, in all {pusher.refused}")  # fmt: skip

    assert beta.get("/health")[1]["role"] == "leader"
    assert len(before) == BEFORE
    assert len(pusher.acknowledged) == 2 * BEFORE
    missing = pusher.missing_from(beta)
    assert missing == [], f"acknowledged through haproxy, missing on the new leader: {missing}"
    jobs = beta.get("/jobs")[1]
    assert "behind_haproxy" in {job["job"] for job in jobs["jobs"]}
