"""The aggregating same-shape path (a repeat of a group's last text body, its values added
to the stored ones without parsing) gives exactly what the full path gives: the same
exposition after every push, the same refusals."""

from __future__ import annotations

import random

import pytest

from batchgate.collector.pushgateway import AggregateRule, GroupRegistry, PushgatewayError


def body(values: list[float]) -> bytes:
    done, peak, other = values
    return (
        "# HELP done Tasks done.\n# TYPE done counter\n"
        f'done{{queue="a"}} {done}\ndone{{queue="b"}} {done * 2}\n'
        f"# TYPE peak gauge\npeak {peak}\n"
        f"# TYPE other untyped\nother {other}\n"
    ).encode()


def push_all(registry: GroupRegistry, bodies: list[bytes], full_path_only: bool) -> list[str]:
    """The exposition after each push (or the refusal's message), and whether a push found
    a shape to take the fast path with (last item)."""
    seen = []
    shaped = False
    for number, data in enumerate(bodies):
        for group in registry._groups.values():  # the twin's switch: no shape, no fast path
            if full_path_only:
                group.shape = None
            shaped = shaped or group.shape is not None
        try:
            registry.push("POST", "job/lambda_x", data, None, False, float(number))
            seen.append(registry.render_text())
        except PushgatewayError as error:
            seen.append(error.message)
    return [*seen, f"shaped: {shaped}"]


@pytest.mark.parametrize("gauges", ["last", "sum", "max"])
def test_the_fast_path_adds_up_as_the_full_path_does(gauges: str) -> None:
    chooser = random.Random(22)
    bodies = []
    for _ in range(60):
        values = [chooser.choice([0, 1, 2.5, 7, 1e20]), chooser.uniform(-5, 5), chooser.random()]
        if chooser.random() < 0.1:
            values[0] = -1  # a counter going backwards: refused either way
        bodies.append(body(values))
        if chooser.random() < 0.1:
            bodies.append(b'# TYPE done counter\ndone{queue="c"} 1\n')  # another shape
    rule = (AggregateRule("lambda_*", gauges=gauges),)
    fast = push_all(GroupRegistry(aggregate=rule), bodies, full_path_only=False)
    full = push_all(GroupRegistry(aggregate=rule), bodies, full_path_only=True)
    assert fast[:-1] == full[:-1]
    assert (fast[-1], full[-1]) == ("shaped: True", "shaped: False")
    assert any("cannot go backwards" in answer for answer in fast)
