"""Every push the Pushgateway refuses is refused with the same status and the same words.

The expected answers are recorded in pushgateway_cases.py; the second test replays the
recording against the real Pushgateway, so the recording cannot drift from it.
"""

from __future__ import annotations

import re

import pytest

from batchgate.collector.pushgateway import GroupRegistry, PushgatewayError

from .conftest import RealPushgateway
from .pushgateway_cases import CASES, Step

NOW = 1795343029.5
_PUSH_TIME_VALUE = re.compile(r"value:1\.\d+e\+09")


def normalized(message: str) -> str:
    """Push times differ between runs; bullet order of a multi-error differs in Go."""
    message = _PUSH_TIME_VALUE.sub("value:NOW", message)
    head, separator, bullets = message.partition(" error(s) occurred:\n* ")
    if not separator:
        return message
    return head + separator + "\n* ".join(sorted(bullets.split("\n* ")))


def answer_of(registry: GroupRegistry, step: Step, now: float) -> tuple[int, str]:
    try:
        registry.push(step.method, step.path, step.body, step.content_type, step.gzipped, now)
    except PushgatewayError as error:
        return error.status, error.message
    return 200, ""


@pytest.mark.parametrize("case", CASES)
def test_it_answers_the_recorded_errors(case: str) -> None:
    registry = GroupRegistry()
    for number, step in enumerate(CASES[case]):
        status, message = answer_of(registry, step, NOW + number)
        assert (status, normalized(message)) == (step.status, normalized(step.message))


@pytest.mark.parametrize("case", CASES)
def test_the_recording_is_what_the_real_pushgateway_answers(
    case: str, real_pushgateway: RealPushgateway
) -> None:
    for step in CASES[case]:
        status, body = real_pushgateway.push(
            step.method, step.path, step.body, step.content_type, step.gzipped
        )
        accepted = {normalized(text) for text in (step.message, *step.alternatives)}
        assert status == step.status
        assert normalized(body.removesuffix("\n")) in accepted
