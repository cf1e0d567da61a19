"""A standby answers as load balancers, Prometheus and clients need: healthy, not ready,
its role and the leader in /health, its own metrics only, and 503 naming the leader to
everything else (pushes through the front door and through aiohttp alike)."""

from __future__ import annotations

import gzip

from tests.collector.ha.conftest import MakeNode
from tests.collector.ha.nodes import request, wait_until


def test_it_answers_as_a_standby(make_node: MakeNode) -> None:
    leader = make_node("alpha")
    wait_until(lambda: leader.status("/-/ready") == 200, 10, "alpha ready", leader)
    standby = make_node("beta")
    wait_until(lambda: standby.role() == "standby", 10, "beta a standby", standby)

    assert standby.status("/-/healthy") == 200
    assert standby.status("/-/ready") == 503
    assert leader.status("/-/ready") == 200
    status, health, _ = standby.get("/health")
    assert status == 200
    assert health["role"] == "standby"
    assert health["node"] == "beta"
    assert health["leader"] == {"name": "alpha", "url": leader.url}
    assert leader.get("/health")[1]["role"] == "leader"

    push = [{"job": "backup", "event": "start", "run_id": "r1"}]
    for path, body, data in (
        ("/push", push, None),  # the front door's path
        ("/metrics/job/backup", None, b"some_metric 1\n"),  # the Pushgateway's
    ):
        status, answer, headers = request("POST", standby.url + path, body, data=data)
        assert status == 503, answer
        assert headers["Retry-After"]
        assert headers["Batchgate-Leader"] == leader.url
        assert answer["details"] == [{"leader": "alpha", "leader_url": leader.url}]
        assert leader.url in answer["error"]
    gzipped = gzip.compress(b'{"job": "backup", "event": "start"}')
    status, _, _ = request("POST", standby.url + "/push", data=gzipped)
    assert status == 503
    for path in ("/jobs", "/summary", "/alerts", "/", "/runs/r1"):
        status, answer, headers = standby.get(path)
        assert status == 503, (path, answer)
        assert headers["Batchgate-Leader"] == leader.url

    status, _, _ = request("POST", leader.url + "/push", push)
    assert status == 200
    assert leader.get("/jobs")[0] == 200

    status, metrics, _ = standby.get("/metrics")
    assert status == 200
    assert "batchgate_leader 0.0" in metrics
    assert "batchgate_http_requests_total" in metrics
    assert "batchgate_job_" not in metrics
    assert "batchgate_lease_renewal_seconds_count" in metrics
    leader_metrics = leader.get("/metrics")[1]
    assert "batchgate_leader 1.0" in leader_metrics
    assert 'batchgate_job_last_start_timestamp_seconds{job="backup"}' in leader_metrics
    assert "batchgate_leader_changes_total 1.0" in leader_metrics
