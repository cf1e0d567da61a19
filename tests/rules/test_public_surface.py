"""rules' public surface is explicit, and the package stays pure."""

import ast
import pathlib

from batchgate import rules

RULES_DIR = pathlib.Path(rules.__file__).parent
FORBIDDEN = {
    "aiohttp",
    "asyncio",
    "sqlite3",
    "aiosqlite",
    "time",
    "socket",
    "requests",
}


def test_everything_in_all_is_importable():
    for name in rules.__all__:
        assert getattr(rules, name) is not None, name


def test_all_is_sorted_and_complete():
    assert list(rules.__all__) == sorted(rules.__all__)


def test_the_package_imports_no_io_and_not_the_collector():
    for path in RULES_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
                assert not name.startswith("batchgate.collector"), f"{path.name} imports {name}"


def test_the_package_never_reads_the_clock():
    for path in RULES_DIR.rglob("*.py"):
        text = path.read_text()
        for call in ("time.time(", "datetime.now(", ".utcnow(", "time.monotonic(", ".today("):
            assert call not in text, f"{path.name} calls {call}"
