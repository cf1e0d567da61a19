"""The aggregating same-shape path (a repeat of a group's last text body, its values added
to the stored ones without parsing) gives exactly what the full path gives: the same
exposition after every push, the same refusals."""

from __future__ import annotations

import random

import pytest

from batchgate.collector.pushgateway import AggregateRule, GroupRegistry, PushgatewayError


def body(values: list[float | str]) -> bytes:
    done, peak, other = values
    return (
        "# HELP done Tasks done.\n# TYPE done counter\n"
        f'done{{queue="a"}} {done}\ndone{{queue="b"}} {doubled(done)}\n'
        f"# TYPE peak gauge\npeak {peak}\n"
        f"# TYPE other untyped\nother {other}\n"
    ).encode()


def doubled(value: float | str) -> float | str:
    return value * 2 if isinstance(value, float | int) else value


def push_all(
    registry: GroupRegistry, bodies: list[tuple[str, bytes]], full_path_only: bool
) -> list[str]:
    """The exposition after each push (or the refusal's message), and whether a push found
    a shape to take the fast path with (last item)."""
    seen = []
    shaped = False
    for number, (method, data) in enumerate(bodies):
        for group in registry._groups.values():  # the twin's switch: no shape, no fast path
            if full_path_only:
                group.shape = None
            shaped = shaped or group.shape is not None
        try:
            registry.push(method, "job/lambda_x", data, None, False, float(number))
            seen.append(registry.render_text())
        except PushgatewayError as error:
            seen.append(error.message)
    return [*seen, f"shaped: {shaped}"]


# Values as clients write them, and as they do not: exponents, a point without digits on
# one side, signs, spellings of NaN and infinity, and a number out of float64's range
# (refused, as Go's ParseFloat refuses it).
ODD_TOKENS = ["1e+06", "1E3", ".5", "5.", "+2", "-0", "NaN", "+Inf", "-Inf", "1e999", "1_0"]


@pytest.mark.parametrize("gauges", ["last", "sum", "max"])
def test_the_fast_path_adds_up_as_the_full_path_does(gauges: str) -> None:
    chooser = random.Random(22)
    bodies = []
    for _ in range(200):
        values: list[float | str] = [
            chooser.choice([0, 1, 2.5, 7, 1e20, 3e-7, 999_999.5]),
            chooser.uniform(-5, 5),
            chooser.random(),
        ]
        if chooser.random() < 0.1:
            values[0] = -1  # a counter going backwards: refused either way
        if chooser.random() < 0.15:
            values[chooser.randrange(3)] = chooser.choice(ODD_TOKENS)
        # A PUT replaces the group's values (the replacing same-shape path, where a shape
        # is kept): what the next POST adds to is what the PUT wrote.
        bodies.append(("PUT" if chooser.random() < 0.05 else "POST", body(values)))
        if chooser.random() < 0.05:
            bodies.append(("POST", b'# TYPE done counter\ndone{queue="c"} 1\n'))  # another shape
    rule = (AggregateRule("lambda_*", gauges=gauges),)
    fast = push_all(GroupRegistry(aggregate=rule), bodies, full_path_only=False)
    full = push_all(GroupRegistry(aggregate=rule), bodies, full_path_only=True)
    assert fast[:-1] == full[:-1]
    assert (fast[-1], full[-1]) == ("shaped: True", "shaped: False")
    assert any("cannot go backwards" in answer for answer in fast)
