"""The README's rules and config examples, and docs/configuration.md's, load as written."""

from __future__ import annotations

import re
from pathlib import Path

from batchgate.collector.settings import load_settings
from batchgate.rules import parse_rules
from tests.helpers import REPO


def _yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(), re.DOTALL)


def test_the_readme_rules_and_config_load() -> None:
    blocks = [b for b in _yaml_blocks(REPO / "README.md") if "rules" in b or "receivers" in b]
    rules = next(b for b in blocks if b.startswith("# rules.yaml"))
    parsed, errors = parse_rules(rules, "README.md")
    assert errors == []
    assert [rule.name for rule in parsed] == ["JobFailed", "EtlTooSlow", "NightlyBackupMissed"]
    config = next(b for b in blocks if b.startswith("# batchgate.yaml"))
    alerting = load_settings({"config": "batchgate.yaml"}, {}, lambda _: config).alerting
    assert [receiver.name for receiver in alerting.receivers] == ["ops", "am"]
    assert alerting.rules_files == ("rules.yaml",)


def test_the_configuration_examples_load() -> None:
    for block in _yaml_blocks(REPO / "docs" / "configuration.md"):
        load_settings({"config": "batchgate.yaml"}, {}, lambda _, text=block: text)
