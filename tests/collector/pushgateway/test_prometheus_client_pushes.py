"""prometheus_client's push_to_gateway, pushadd_to_gateway and delete_from_gateway, as sent.

The client's own request building (URL escaping of the grouping key, base64 for `/`, spaces
and empty values, gzip) is captured through its `handler` hook and given to the registry
as a server would: this is exactly what a real client puts on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    Histogram,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

from batchgate.collector.pushgateway import GroupRegistry


class Gateway:
    """A prometheus_client handler that applies each request to a GroupRegistry."""

    def __init__(self) -> None:
        self.registry = GroupRegistry()
        self.now = 1000.0

    def handler(
        self, url: str, method: str, timeout: float | None, headers: list, data: bytes
    ) -> Callable[[], None]:
        def send() -> None:
            path = urlsplit(url).path.removeprefix("/metrics/")
            header = {name.lower(): value for name, value in headers}
            self.now += 1
            if method == "DELETE":
                self.registry.delete(path)
                return
            gzipped = header.get("content-encoding") == "gzip"
            self.registry.push(method, path, data, header.get("content-type"), gzipped, self.now)

        return send

    def series(self, name: str) -> list[str]:
        return [line for line in self.registry.render_text().splitlines() if line.startswith(name)]


def job_registry(value: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("backup_bytes", "Bytes backed up.", registry=registry).set(value)
    Histogram("backup_seconds", "Backup duration.", buckets=(1, 10), registry=registry).observe(3)
    return registry


def test_odd_grouping_keys_arrive_as_labels() -> None:
    gateway = Gateway()
    key = {"path": "/var/lib/db", "host": "db 1", "shard": "", "site": "zürich+1"}
    push_to_gateway("gw:9091", "nightly/backup", job_registry(42), key, handler=gateway.handler)
    assert gateway.series("backup_bytes") == [
        'backup_bytes{host="db 1",instance="",job="nightly/backup",path="/var/lib/db",'
        'shard="",site="zürich+1"} 42'
    ]


def test_a_gzip_push_is_read() -> None:
    gateway = Gateway()
    push_to_gateway(
        "gw:9091", "backup", job_registry(7), handler=gateway.handler, compression="gzip"
    )
    assert gateway.series("backup_bytes") == ['backup_bytes{instance="",job="backup"} 7']
    assert gateway.series("backup_seconds_bucket") == [
        'backup_seconds_bucket{instance="",job="backup",le="1"} 0',
        'backup_seconds_bucket{instance="",job="backup",le="10"} 1',
        'backup_seconds_bucket{instance="",job="backup",le="+Inf"} 1',
    ]


def test_pushadd_keeps_other_families_and_push_replaces_them() -> None:
    gateway = Gateway()
    push_to_gateway("gw", "backup", job_registry(1), handler=gateway.handler)
    extra = CollectorRegistry()
    Gauge("backup_files", "Files.", registry=extra).set(3)
    pushadd_to_gateway("gw", "backup", extra, handler=gateway.handler)
    assert gateway.series("backup_bytes")
    assert gateway.series("backup_files")
    push_to_gateway("gw", "backup", extra, handler=gateway.handler)
    assert not gateway.series("backup_bytes")
    assert gateway.series("backup_files") == ['backup_files{instance="",job="backup"} 3']


def test_delete_removes_the_group() -> None:
    gateway = Gateway()
    push_to_gateway("gw", "backup", job_registry(1), {"host": "a b"}, handler=gateway.handler)
    push_to_gateway("gw", "backup", job_registry(2), {"host": "c"}, handler=gateway.handler)
    delete_from_gateway("gw", "backup", {"host": "a b"}, handler=gateway.handler)
    assert gateway.series("backup_bytes") == ['backup_bytes{host="c",instance="",job="backup"} 2']
