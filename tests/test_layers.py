"""The packages keep the layers docs/architecture.md draws: each imports only from its own
layer and the layers below it, and the pure ones touch no I/O."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import IMPORT_ROOT, REPO

FOLDERS = {
    "client": "batchgate.client",
    "collector": "batchgate.collector",
    "rules": "batchgate.rules",
}

PURE = ("rules", "collector.pushgateway", "collector.core", "collector.otlp")
SERVICES = (
    "collector.settings",
    "collector.auth",
    "collector.live",
    "collector.groups",
    "collector.alerting",
    "collector.observability",
    "collector.ingest",
    "collector.leadership",
)
BELOW: dict[str, tuple[str, ...]] = {
    "client": (),
    "rules": (),
    "collector.pushgateway": ("rules",),
    "collector.core": ("rules", "collector.pushgateway"),
    "collector.otlp": ("rules", "collector.pushgateway"),
    "collector.storage": PURE,
    **dict.fromkeys(SERVICES, (*PURE, "collector.storage", *SERVICES)),
    "collector.http": (*PURE, "collector.storage", *SERVICES),
    "collector": (),
    "collector.cli": (
        *PURE,
        "collector.storage",
        *SERVICES,
        "collector.http",
        "collector.demo",
        "collector.silence_command",
        "collector.discover",
        "client",
    ),
    "collector.demo": ("client",),
    "collector.silence_command": ("rules",),
    "collector.discover": ("rules",),
}
"""What each part may import besides itself (and the `batchgate` package's version)."""

IO = {"aiohttp", "aiosqlite", "asyncio", "socket", "sqlite3", "subprocess", "threading"}


def part(module: str) -> str:
    """The layer a `batchgate.` module belongs to, by the table above."""
    names = module.split(".")[1:]
    if names[0] != "collector":
        return names[0]
    return ".".join(names[:2]) if len(names) > 1 else "collector"


def modules() -> Iterator[tuple[str, Path]]:
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO / folder).with_suffix("")
            if relative.parts[0] == "root":  # the `batchgate` package itself, above them all
                continue
            names = [name for name in relative.parts if name != "__init__"]
            yield ".".join([package, *names]), path


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


MODULES = list(modules())


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_it_imports_only_its_own_layer_and_those_below(module: str, path: Path) -> None:
    own = part(module)
    allowed = BELOW.get(own)
    assert allowed is not None, f"{module} is in no layer: add {own} to the table and the doc"
    for imported in imports(path):
        if not imported.startswith("batchgate.") or imported == "batchgate.collector":
            continue  # a library, the standard library, or the version
        target = part(imported)
        assert target == own or target in allowed, f"{module} imports {imported}"


INTEGRATIONS = {
    "batchgate.client.integrations.celery": ("celery", "kombu"),
    "batchgate.client.integrations.rq": ("rq", "redis"),
}
"""The frameworks each task queue integration may import."""


@pytest.mark.parametrize("layer", PURE)
def test_the_pure_core_does_no_io(layer: str) -> None:
    for module, path in MODULES:
        if part(module) == layer:
            found = {name.split(".")[0] for name in imports(path)} & IO
            assert not found, f"{module} imports {found}"


def test_the_client_imports_only_the_standard_library() -> None:
    """But for an integration, which imports its own framework (and only when called):
    `batchgate.client.integrations.celery` may import `celery` and `kombu`."""
    for module, path in MODULES:
        if part(module) == "client":
            framework = INTEGRATIONS.get(module, ())
            for imported in imports(path):
                top = imported.split(".")[0]
                assert (
                    top in sys.stdlib_module_names
                    or top in framework
                    or (
                        imported.startswith(("batchgate.client", "batchgate"))
                        and not imported.startswith("batchgate.collector")
                    )
                ), f"{module}: {imported}"


def test_the_collector_keeps_at_most_a_dozen_modules_at_its_top() -> None:
    top = sorted(path.name for path in (REPO / "collector").glob("*.py"))
    assert len(top) <= 12, top


def test_no_module_is_imported_by_its_folder_name() -> None:
    """`import collector` would load a second copy beside `batchgate.collector`."""
    for module, path in MODULES:
        for imported in imports(path):
            assert imported.split(".")[0] not in FOLDERS, f"{module} imports {imported}"


IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import batchgate
for module in pkgutil.walk_packages(batchgate.__path__, "batchgate."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
from batchgate.rules import default_rules
default_rules()
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in
      ("client", "collector", "rules"))))
"""


def test_nothing_is_loaded_by_its_folder_name_away_from_the_repository(tmp_path: Path) -> None:
    """Only `batchgate.*` exists once installed: a module or a data file reached by its
    folder's name (`resources.files("rules")`) works in the repository and nowhere else."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": IMPORT_ROOT},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
