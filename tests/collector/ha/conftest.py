"""Several real batchgate nodes on one real PostgreSQL (tests.postgres), each test on a
database of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.collector.ha.nodes import LEASE, HaNode
from tests.postgres import Cluster, need_postgres, running_cluster

MakeNode = Callable[..., HaNode]


@pytest.fixture
def postgres() -> Iterator[Cluster]:
    """A server of the test's own: some tests stop and restart it."""
    need_postgres()
    with running_cluster({"fsync": "off"}) as cluster:
        yield cluster


@pytest.fixture
def make_node(postgres: Cluster, tmp_path: Path) -> Iterator[MakeNode]:
    """`make_node(name, lease, *flags)`: a started node on the test's database; all
    stopped at the end."""
    url = postgres.database()
    made: list[HaNode] = []

    def make(name: str, lease: float = LEASE, *extra: str) -> HaNode:
        made.append(HaNode(tmp_path, name, url, lease, *extra))
        return made[-1].start()

    yield make
    for node in made:
        node.stop()
