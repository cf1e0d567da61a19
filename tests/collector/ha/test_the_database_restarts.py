"""The database restarted under a steady load of pushes: while it is down pushes are
refused (never a 2xx that is then lost), and service resumes by itself once it is back,
on one of the nodes, with everything acknowledged."""

from __future__ import annotations

import time

from tests.collector.ha.conftest import MakeNode
from tests.collector.ha.nodes import Pushes, wait_until
from tests.postgres import Cluster


def test_pushes_are_refused_while_the_database_is_down_and_resume(
    make_node: MakeNode, postgres: Cluster
) -> None:
    alpha = make_node("alpha")
    wait_until(lambda: alpha.status("/-/ready") == 200, 10, "alpha ready", alpha)
    beta = make_node("beta")
    wait_until(lambda: beta.role() == "standby", 10, "beta a standby", beta)
    nodes = (alpha, beta)
    with Pushes([alpha.url, beta.url]) as pushes:
        wait_until(lambda: pushes.count() >= 30, 20, "30 pushes acknowledged", alpha)
        postgres.halt()
        time.sleep(0.5)  # pushes in flight when it went have been answered
        during = pushes.count()
        time.sleep(2.0)
        assert pushes.count() == during, "a push was acknowledged with the database down"
        postgres.resume()
        wait_until(lambda: pushes.count() >= during + 30, 30, "pushes again", *nodes)
    leaders = [node for node in nodes if node.role() == "leader"]
    assert len(leaders) == 1
    assert pushes.missing_from(leaders[0].url) == []
