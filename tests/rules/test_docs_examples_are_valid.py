"""The examples in docs/rules.md load, and its Slack and Teams templates render valid JSON."""

import json
import pathlib
import re
import textwrap

import pytest

from batchgate.rules.alerts import Notification
from batchgate.rules.payloads import build_requests
from batchgate.rules.receivers import load_receivers
from batchgate.rules.ruleset import parse_rules

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "rules.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)


def _rule_blocks():
    for block in BLOCKS:
        if block.startswith("# rules.yaml"):
            yield block
        elif block.lstrip().startswith("- ") and "kind:" in block:
            yield "rules:\n" + textwrap.indent(block, "  ")


def _template_blocks():
    return [block for block in BLOCKS if block.startswith("# ") and "template:" in block]


@pytest.mark.parametrize("block", list(_rule_blocks()))
def test_every_rule_example_loads(block):
    rules, errors = parse_rules(block, "docs/rules.md")

    assert errors == []
    assert rules


def test_the_receivers_example_loads():
    (block,) = [block for block in BLOCKS if block.startswith("receivers:")]

    receivers, errors = load_receivers(block, "docs/rules.md")

    assert errors == []
    assert [receiver.name for receiver in receivers] == ["ops", "am", "slack"]


@pytest.mark.parametrize("block", _template_blocks())
def test_the_template_examples_render_valid_json(block):
    receivers, errors = load_receivers(
        "receivers:\n  - name: chat\n" + textwrap.indent(block, "    ")
    )
    assert errors == []
    notifications = [
        Notification(
            receiver="chat",
            reason="firing",
            status=status,
            alert_id=str(index),
            job="etl",
            run_id=None,
            labels={"alertname": "JobFailed", "job": "etl", "severity": "critical"},
            annotations={"summary": 'etl "nightly" failed'},
            starts_at=1_714_521_600.0,
            ends_at=None if status == "firing" else 1_714_521_700.0,
            at=1_714_521_700.0,
        )
        for index, status in enumerate(["firing", "resolved"])
    ]

    (request,) = build_requests(receivers[0], notifications, external_url="http://b", now=0.0)

    assert json.loads(request.body)
