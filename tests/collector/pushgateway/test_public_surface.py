"""The package's public surface is explicit, and the package stays pure (no I/O, no clock)."""

from __future__ import annotations

import ast
from pathlib import Path

import batchgate.collector.pushgateway as pushgateway

PACKAGE = Path(pushgateway.__file__).parent
FORBIDDEN = {"aiohttp", "asyncio", "sqlite3", "aiosqlite", "time", "socket", "os", "threading"}


def test_everything_exported_exists() -> None:
    assert sorted(pushgateway.__all__) == sorted(set(pushgateway.__all__))
    for name in pushgateway.__all__:
        assert hasattr(pushgateway, name), name


def test_no_module_does_io_or_reads_a_clock() -> None:
    for module in PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text())
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & FORBIDDEN, (module.name, imported & FORBIDDEN)
        assert "open(" not in module.read_text(), module.name
