"""Takeover: under a steady load of pushes, the leader is killed (kill -9) or paused past
its lease (SIGSTOP); a standby takes the lease, restores the live state from the database
and serves, with every push that was answered 2xx; a paused leader that wakes up
acknowledges nothing more and becomes a standby; a standby killed changes nothing for the
leader."""

from __future__ import annotations

import signal
import threading
import time

from tests.collector.ha.conftest import MakeNode
from tests.collector.ha.nodes import LEASE, Pushes, request, wait_until

PUSH_TIMEOUT = 10.0
"""How long a push waits for its commit before a 503 (the default `push_timeout`)."""
TAKEOVER_WITHIN = 10.0
"""Seconds allowed from the leader's death to a standby serving (lease 1 s; measured ~2 s)."""


def test_a_killed_leader_is_replaced_and_nothing_acknowledged_is_lost(
    make_node: MakeNode,
) -> None:
    alpha = make_node("alpha")
    wait_until(lambda: alpha.status("/-/ready") == 200, 10, "alpha ready", alpha)
    beta = make_node("beta")
    wait_until(lambda: beta.role() == "standby", 10, "beta a standby", beta)
    with Pushes([alpha.url, beta.url]) as pushes:
        wait_until(lambda: pushes.count() >= 50, 20, "50 pushes acknowledged", alpha)
        killed_at = time.monotonic()
        alpha.kill()
        took = wait_until(lambda: beta.status("/-/ready") == 200, TAKEOVER_WITHIN,
                          "beta serving", beta)  # fmt: skip
        before = pushes.count()
        wait_until(lambda: pushes.count() >= before + 50, 20, "50 more pushes", beta)
    print(f"takeover after kill -9: {took:.2f} s ({time.monotonic() - killed_at:.2f} s total)")
    assert beta.get("/health")[1]["role"] == "leader"
    assert pushes.missing_from(beta.url) == []
    assert set(pushes.acknowledged.values()) == {alpha.url, beta.url}
    jobs = beta.get("/jobs")[1]
    assert {job["job"] for job in jobs["jobs"]} >= {"ha_0", "ha_1"}


def test_a_paused_leader_acknowledges_nothing_more_and_stands_by(make_node: MakeNode) -> None:
    alpha = make_node("alpha")
    wait_until(lambda: alpha.status("/-/ready") == 200, 10, "alpha ready", alpha)
    beta = make_node("beta")
    wait_until(lambda: beta.role() == "standby", 10, "beta a standby", beta)
    with Pushes([alpha.url, beta.url]) as pushes:
        wait_until(lambda: pushes.count() >= 30, 20, "30 pushes acknowledged", alpha)
        alpha.signal(signal.SIGSTOP)
        wait_until(lambda: beta.status("/-/ready") == 200, TAKEOVER_WITHIN, "beta serving", beta)
        wait_until(lambda: pushes.count() >= 60, 20, "pushes to beta", beta)
        time.sleep(LEASE)
        # Pushes sent to alpha while it sleeps wait in its socket; woken, it still
        # believes it leads until its next claim: none may be acknowledged (their commits
        # are fenced), and each is refused as soon as alpha steps down (or at once), not
        # after it has waited out push_timeout for a commit that cannot be made.
        answers: list[tuple[int, float]] = []

        def push_to_alpha(number: int) -> None:
            body = [{"job": "late", "event": "start", "run_id": f"to-the-old-leader-{number}"}]
            status, _, _ = request("POST", f"{alpha.url}/push", body, timeout=15)
            answers.append((status, time.monotonic()))

        senders = [threading.Thread(target=push_to_alpha, args=(n,)) for n in range(4)]
        for sender in senders:
            sender.start()
        time.sleep(0.2)  # the requests are in alpha's socket
        woken = time.monotonic()
        alpha.signal(signal.SIGCONT)
        for sender in senders:
            sender.join()
        assert [status for status, _ in answers] == [503] * 4
        slowest = max(at for _, at in answers) - woken
        print(f"the woken leader refused the pushes within {slowest:.2f} s")
        assert slowest < PUSH_TIMEOUT / 2
        wait_until(lambda: alpha.role() == "standby", 10, "alpha a standby", alpha)
        assert alpha.status("/-/ready") == 503
        assert alpha.get("/health")[1]["leader"]["name"] == "beta"
    acknowledged_by_alpha_after = [
        run_id for run_id, url in pushes.acknowledged.items() if url == alpha.url
    ]
    assert acknowledged_by_alpha_after  # before the pause
    assert pushes.missing_from(beta.url) == []
    for number in range(4):
        assert request("GET", f"{beta.url}/runs/to-the-old-leader-{number}")[0] == 404
    metrics = alpha.get("/metrics")[1]
    assert "batchgate_leader 0.0" in metrics
    assert "batchgate_leader_changes_total 2.0" in metrics


def test_a_killed_standby_changes_nothing_for_the_leader(make_node: MakeNode) -> None:
    alpha = make_node("alpha")
    wait_until(lambda: alpha.status("/-/ready") == 200, 10, "alpha ready", alpha)
    beta = make_node("beta")
    wait_until(lambda: beta.role() == "standby", 10, "beta a standby", beta)
    with Pushes([alpha.url]) as pushes:
        wait_until(lambda: pushes.count() >= 30, 20, "30 pushes acknowledged", alpha)
        beta.kill()
        before = pushes.count()
        wait_until(lambda: pushes.count() >= before + 30, 20, "30 more pushes", alpha)
        gamma = make_node("gamma")
        wait_until(lambda: gamma.role() == "standby", 10, "gamma a standby", gamma)
    assert pushes.refused == 0
    assert alpha.get("/health")[1]["role"] == "leader"
    assert pushes.missing_from(alpha.url) == []
    assert "batchgate_leader_changes_total 1.0" in alpha.get("/metrics")[1]
