"""An export that repeats its group's last export with new values takes the same-shape path
(`collector.otlp.same_shape`): no translation, no checks against other groups. It must end
exactly where the full path (translate, merge, check, store) ends: the same answer, the same
scrape, the same stored snapshots, the same groups after a restart. Groups whose same-shape
path is turned off are the reference."""

from __future__ import annotations

import copy
import json
import math
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from batchgate.collector.core.state import State, StateSettings
from batchgate.collector.groups import Groups
from batchgate.collector.http.handlers.otlp import error_message
from batchgate.collector.otlp import OtlpBodyError, Repeat, decode, json_text, read_export
from batchgate.collector.otlp import repeats as repeats_module
from batchgate.collector.pushgateway import AggregateRule, GroupRegistry, PushgatewayError
from batchgate.collector.storage.writer import Writer

from .bodies import CUMULATIVE, DELTA, NOW_NS, as_protobuf, attributes

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
SECOND = 1_000_000_000


class Server:
    """Groups as the server holds them, with what a commit would store of each group."""

    def __init__(self, same_shape: bool, aggregate: tuple[AggregateRule, ...] = ()) -> None:
        self.aggregate = aggregate
        self.groups = self._groups(same_shape)
        self.same_shape = same_shape
        self.staged: dict[str, Callable[[], str | None]] = {}
        self.groups.writer.stage_group = self.staged.__setitem__  # type: ignore[method-assign,assignment]
        self.repeats = 0

    def _groups(self, same_shape: bool) -> Groups:
        registry = GroupRegistry(aggregate=self.aggregate)
        state = State(StateSettings())
        return Groups(registry, state, Writer(store=None), (), same_shape=same_shape)  # type: ignore[arg-type]

    def export(self, media: str, body: bytes, now: float) -> Any:
        """The answer: the points refused and why, or the 400's message."""
        groups = self.groups
        try:
            items = read_export(body, media, groups.registry.aggregating_job, groups.export_shapes)
        except OtlpBodyError as error:
            return "400", str(error)
        rejected = []
        for item in items:
            self.repeats += isinstance(item, Repeat)
            rejected.extend(groups.push_otlp(item, now)[1])
        return sum(item.points for item in rejected), error_message(rejected)

    def push(self, path: str, body: bytes, now: float) -> Any:
        """A Pushgateway POST into a group, as the ingest service makes it."""
        try:
            result = self.groups.registry.push("POST", path, body, None, False, now)
        except PushgatewayError as error:
            return error.message
        self.groups.changed(result.key)
        return "ok"

    def everything(self) -> tuple[Any, ...]:
        """What /metrics shows, each group's stored snapshot, and /metrics after a restart
        from those snapshots."""
        snapshots = {key: snapshot() for key, snapshot in self.staged.items()}
        restarted = self._groups(self.same_shape)
        restarted.restore(snapshot for snapshot in snapshots.values() if snapshot is not None)
        return self.groups.registry.render_text(), snapshots, restarted.registry.render_text()


def point(value: Any, start: int, time: int, key: str = "asDouble", **labels: Any) -> Any:
    return {
        "attributes": attributes(**labels),
        "startTimeUnixNano": str(start),
        "timeUnixNano": str(time),
        key: value,
    }


def export_body(values: list[Any], start: int, time: int, *, target: bool = True) -> Any:
    """One resource: a delta counter (2 series), a cumulative counter, a gauge and a delta
    up-down counter; `values` in that order (ints go as `asInt` strings)."""

    def number(value: Any, **labels: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return point(str(value), start, time, "asInt", **labels)
        if not math.isfinite(value):  # as OTLP's JSON writes them
            value = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        return point(value, start, time, **labels)

    done, failed, total, load, level = values
    resource: dict[str, Any] = {"service.name": "etl", "service.instance.id": "w1"}
    if target:
        resource["host.name"] = "db1"
    metrics = [
        {
            "name": "rows.done",
            "unit": "{row}",
            "description": "Rows done.",
            "sum": {
                "aggregationTemporality": DELTA,
                "isMonotonic": True,
                "dataPoints": [number(done, table="a"), number(failed, table="b")],
            },
        },
        {
            "name": "bytes.read",
            "unit": "By",
            "sum": {
                "aggregationTemporality": CUMULATIVE,
                "isMonotonic": True,
                "dataPoints": [number(total)],
            },
        },
        {"name": "load", "unit": "1", "gauge": {"dataPoints": [number(load, core="0")]}},
        {
            "name": "queue.level",
            "sum": {
                "aggregationTemporality": DELTA,
                "isMonotonic": False,
                "dataPoints": [number(level)],
            },
        },
    ]
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": attributes(**resource)},
                "scopeMetrics": [{"scope": {"name": "etl.meter"}, "metrics": metrics}],
            }
        ]
    }


def encoded(body: Any, media: str) -> bytes:
    return json.dumps(body).encode() if media == JSON else as_protobuf(body)


def random_values(chooser: random.Random) -> list[Any]:
    def integer() -> int:
        return chooser.choice([0, 1, 7, 3, 1 << 60])

    def double() -> float:
        return chooser.choice([0.0, 2.5, 1e20, 0.1, 3.0])

    # Counters as `asInt`, the gauge and up-down counter as `asDouble` (another choice is
    # another shape).
    values: list[Any] = [integer(), integer(), integer(), double(), double()]
    roll = chooser.random()
    if roll < 0.05:
        values[0] = -1  # a counter going backwards: refused either way
    elif roll < 0.1:
        values[3] = chooser.choice([math.nan, math.inf, -0.0, -2.5])
    elif roll < 0.15:
        values[4] = -3.0
    return values


def exports(seed: int, media: str) -> list[tuple[str, Any]]:
    """A run of exports (and the odd Pushgateway push into the group), mostly repeats."""
    chooser = random.Random(seed)
    steps: list[tuple[str, Any]] = []
    start = NOW_NS
    for _ in range(80):
        time = start + SECOND
        roll = chooser.random()
        body = export_body(random_values(chooser), start, time)
        if roll < 0.05:
            body = export_body(random_values(chooser), start, time, target=False)  # new shape
        elif roll < 0.1:
            start -= SECOND  # a repeated interval: the delta points are refused
            body = export_body(random_values(chooser), start, time)
        elif roll < 0.13:
            metrics = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            metrics[0]["sum"]["dataPoints"][1]["attributes"] = attributes(table="c")
        elif roll < 0.16:
            steps.append(("push", b"# TYPE rows_done_total counter\nrows_done_total 5\n"))
        steps.append((media, body))
        start = time
    return steps


def run(steps: list[tuple[str, Any]], server: Server) -> list[Any]:
    seen = []
    for number, (media, body) in enumerate(steps):
        now = float(number + 1)
        if media == "push":
            seen.append(server.push("job/etl/instance/w1", body, now))
        else:
            seen.append(server.export(media, encoded(body, media), now))
    return [*seen, server.everything()]


@pytest.mark.parametrize("media", [PROTOBUF, JSON])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_repeated_exports_end_where_the_full_path_ends(media: str, seed: int) -> None:
    steps = exports(seed, media)
    fast, full = Server(same_shape=True), Server(same_shape=False)
    assert run(steps, fast) == run(steps, full)
    assert fast.repeats > 40
    assert full.repeats == 0


@pytest.mark.parametrize("gauges", ["last", "sum", "max"])
@pytest.mark.parametrize("media", [PROTOBUF, JSON])
def test_aggregating_groups_add_up_as_the_full_path_does(media: str, gauges: str) -> None:
    chooser = random.Random(22)
    steps = []
    for number in range(60):
        body = export_body(random_values(chooser), NOW_NS, NOW_NS + SECOND, target=False)
        metrics = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        del metrics[1]  # cumulative points cannot be added up (refused either way)
        if number % 20 == 19:
            metrics.append(copy.deepcopy(metrics[-1]))
            metrics[-1]["name"] = "other"
        steps.append((media, body))
    rule = (AggregateRule("etl", gauges=gauges),)
    fast, full = Server(True, rule), Server(False, rule)
    assert run(steps, fast) == run(steps, full)
    assert fast.repeats > 30


JSON_VALUES = [
    ("asDouble", 5),
    ("asDouble", "NaN"),
    ("asDouble", "-Infinity"),
    ("asDouble", "1.5"),  # a string the parser reads, the fast path does not
    ("asDouble", 1e400),  # json reads inf: the parser refuses it
    ("asDouble", True),
    ("asInt", 12),
    ("asInt", "-12"),
    ("asInt", "0x10"),
    ("asInt", 1.0),
    ("asInt", str(1 << 63)),
    ("asInt", "0" * 30 + "5"),  # the parser reads 5, the fast path leaves it to the parser
    # Past `int`'s 4,300 digits: the parser refuses it.
    pytest.param("asInt", "1" + "0" * 5000, id="asInt-5001-digits"),
    ("asDouble", None),
]


@pytest.mark.parametrize(("key", "value"), JSON_VALUES)
def test_a_json_value_in_any_form_is_read_as_protobuf_s_parser_reads_it(
    key: str, value: Any
) -> None:
    def body(number: Any, key: str = "asDouble", time: Any = str(NOW_NS)) -> bytes:
        data = point(number, NOW_NS, NOW_NS, key, core="0")
        data["timeUnixNano"] = time
        gauge = {"name": "load", "gauge": {"dataPoints": [data]}}
        resource = {"attributes": attributes(**{"service.name": "etl"})}
        scopes = [{"scope": {"name": "etl.meter"}, "metrics": [gauge]}]
        text = json.dumps({"resourceMetrics": [{"resource": resource, "scopeMetrics": scopes}]})
        return text.replace('"1e400"', "1e400").encode()

    value = "1e400" if value == 1e400 else value
    steps = [body(1), body(2), body(value, key), body(3, time=int(NOW_NS)), body(4, time="x")]
    fast, full = Server(same_shape=True), Server(same_shape=False)
    answers = [[server.export(JSON, data, 1.0) for data in steps] for server in (fast, full)]
    assert answers[0] == answers[1]
    assert fast.everything() == full.everything()
    assert fast.repeats >= 1


def test_a_repeat_is_not_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_translating(*args: object) -> None:
        raise AssertionError("a repeated export was translated")

    server = Server(same_shape=True)
    start = NOW_NS
    for media in (PROTOBUF, JSON):
        # The first export of a shape creates the group, or repeats the last one's digest.
        for number in range(3):
            body = export_body([1, 2, 30 + number, 0.5, 4.0], start, start + SECOND)
            start += SECOND
            with monkeypatch.context() as patched:
                if number == 2:
                    patched.setattr(repeats_module, "translate_request", no_translating)
                assert server.export(media, encoded(body, media), 1.0) == (0, "")
        lines = server.everything()[0].splitlines()
        assert (
            'bytes_read_bytes_total{instance="w1",job="etl",otel_scope_name="etl.meter"} 32'
            in lines
        )
    assert server.repeats == 3  # protobuf: the 2nd and 3rd; JSON (a new digest): the 3rd


# A JSON body repeated as text (`otlp.json_text`): the body cut at its values is kept after
# a repeat read by the `json` module; later bodies that rebuild it with other values are
# read without it.

DOUBLE_FORMS = [
    "2.5", "7", "1e3", "1E-2", "-3.5e+2", "0", "-0", "-0.0", '"NaN"', '"Infinity"',
    '"-Infinity"', "1e400", '"1.5"', "1" * 50, "-2.5", "0.30000000000000004",
]  # fmt: skip
INTEGER_FORMS = [
    "5", '"6"', '"-1"', "-0", "0", "1.0", '"+5"', str(1 << 62), f'"{1 << 63}"', '"007"',
]  # fmt: skip


def time_form(chooser: random.Random, nanoseconds: int) -> str:
    roll = chooser.random()
    if roll < 0.01:
        return f'"{1 << 64}"'  # out of range: the parser refuses it
    if roll < 0.02:
        return '"-1"'
    return str(nanoseconds) if roll < 0.2 else f'"{nanoseconds}"'


def text_body(tokens: list[str]) -> bytes:
    """One resource: a gauge of two points (`asDouble`), a delta counter and a cumulative
    counter (`asInt`), each point with a start and a time; `tokens` the values' JSON text,
    in document order (a point's value, start, time)."""

    def data(number: int, key: str, **labels: Any) -> Any:
        marked = {key: f"@{number}", "startTimeUnixNano": f"@{number + 1}"}
        return {"attributes": attributes(**labels), **marked, "timeUnixNano": f"@{number + 2}"}

    gauge = [data(0, "asDouble", core="0"), data(3, "asDouble", core="1")]
    metrics = [
        {"name": "load", "unit": "1", "gauge": {"dataPoints": gauge}},
        {
            "name": "rows.done",
            "sum": {
                "aggregationTemporality": DELTA,
                "isMonotonic": True,
                "dataPoints": [data(6, "asInt", table="a")],
            },
        },
        {
            "name": "bytes.read",
            "sum": {
                "aggregationTemporality": CUMULATIVE,
                "isMonotonic": True,
                "dataPoints": [data(9, "asInt")],
            },
        },
    ]
    resource = {"attributes": attributes(**{"service.name": "etl"})}
    scopes = [{"scope": {"name": "etl.meter"}, "metrics": metrics}]
    text = json.dumps({"resourceMetrics": [{"resource": resource, "scopeMetrics": scopes}]})
    for number, token in enumerate(tokens):
        text = text.replace(f'"@{number}"', token, 1)
    return text.encode()


def text_tokens(chooser: random.Random, start: int, time: int, odd: float) -> list[str]:
    """Values in the usual forms; with probability `odd` each in any form taken or not."""

    def value(forms: list[str], usual: str) -> str:
        return chooser.choice(forms) if chooser.random() < odd else usual

    tokens = []
    for number, forms in enumerate([DOUBLE_FORMS, DOUBLE_FORMS, INTEGER_FORMS, INTEGER_FORMS]):
        usual = f"{chooser.random() * 100:.3f}" if number < 2 else f'"{chooser.randrange(9)}"'
        tokens.append(value(forms, usual))
        tokens.extend([time_form(chooser, start), time_form(chooser, time)])
    return tokens


class LoadsCounted:
    """Counts the bodies the `json` module reads in `read_export`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        loading = decode.load_json

        def counted(body: bytes) -> Any:
            self.count += 1
            return loading(body)

        monkeypatch.setattr(repeats_module, "load_json", counted)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_json_values_in_any_form_end_where_the_full_path_ends(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    chooser = random.Random(seed)
    bodies = []
    start = NOW_NS
    for number in range(120):
        time = start + SECOND
        bodies.append(text_body(text_tokens(chooser, start, time, 0.0 if number < 3 else 0.1)))
        start = time if chooser.random() > 0.05 else start - SECOND  # now and then again
    fast, full = Server(same_shape=True), Server(same_shape=False)
    read_as_text = 0
    with monkeypatch.context() as patched:
        loads = LoadsCounted(patched)
        fast_answers = []
        for number, body in enumerate(bodies):
            before = loads.count
            fast_answers.append(fast.export(JSON, body, float(number)))
            read_as_text += loads.count == before
    full_answers = [full.export(JSON, body, float(n)) for n, body in enumerate(bodies)]
    assert fast_answers == full_answers
    assert fast.everything() == full.everything()
    assert fast.repeats > 40
    assert read_as_text > 30


def base_tokens(number: int) -> list[str]:
    start, time = NOW_NS + number * SECOND, NOW_NS + (number + 1) * SECOND
    values = [f"{number}.5", f"{number}.25", f'"{number}"', f'"{number * 2}"']
    return [token for value in values for token in (value, f'"{start}"', f'"{time}"')]


def key_in_a_key(text: str) -> str:
    return text.replace('"asDouble":', '"x\\"asDouble": 5, "asDouble":', 1)


def key_in_a_string(text: str) -> str:
    return text.replace('"stringValue": "0"', '"stringValue": "\\"asDouble\\": 0"', 1)


def key_in_an_exemplar(text: str) -> str:
    decoded = json.loads(text)
    metric = decoded["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    exemplar = {"asDouble": 1.0, "timeUnixNano": str(NOW_NS)}
    metric["gauge"]["dataPoints"][1]["exemplars"] = [exemplar]
    return json.dumps(decoded)


def key_in_the_metric(text: str) -> str:
    return text.replace('"name": "load",', '"name": "load", "asDouble": 4,', 1)


def key_in_the_resource(text: str) -> str:
    return text.replace('"resource": {', '"resource": {"timeUnixNano": "5", ', 1)


def key_twice(text: str) -> str:
    return text.replace('"asInt":', '"asInt": "3", "asInt":', 1)


def time_twice(text: str) -> str:
    return text.replace('"timeUnixNano":', '"timeUnixNano": "1", "timeUnixNano":', 1)


def more_blanks(text: str) -> str:
    return text.replace('"asDouble": ', '"asDouble":\n  ', 1)


def fewer_blanks(text: str) -> str:
    return text.replace(", ", ",").replace(": ", ":")


def other_order(text: str) -> str:
    decoded = json.loads(text)
    point = decoded["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]
    first = point["dataPoints"][0]
    point["dataPoints"][0] = dict(reversed(first.items()))
    return json.dumps(decoded)


MUTATIONS: list[Callable[[str], str]] = [
    key_in_a_key,
    key_in_a_string,
    key_in_an_exemplar,
    key_in_the_metric,
    key_in_the_resource,
    key_twice,
    time_twice,
    more_blanks,
    fewer_blanks,
    other_order,
]
NEVER_CUT = {
    key_in_a_key,
    key_in_an_exemplar,
    key_in_the_metric,
    key_in_the_resource,
    key_twice,
    time_twice,
}
"""Bodies whose text is not cut: a value found in the text is not a point's value."""


def layout(body: bytes) -> bytes:
    """The body with the four fields' values (as the text path finds them) blanked."""
    return re.sub(rb'("(?:asDouble|asInt|startTimeUnixNano|timeUnixNano)"\s*:\s*)'
                  rb'("[^"\\]*"|[-+.0-9eE]+)', rb"\1@", body)  # fmt: skip


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.__name__)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_body_unlike_the_kept_text_is_not_read_from_its_text(
    mutation: Callable[[str], str], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    chooser = random.Random(seed)
    steps = [(False, text_body(base_tokens(number))) for number in range(3)]  # text kept
    for number in range(3, 14):
        body = text_body(base_tokens(number))
        if chooser.random() < 0.5:
            steps.append((True, mutation(body.decode()).encode()))
        else:
            steps.append((False, body))
    fast, full = Server(same_shape=True), Server(same_shape=False)
    read_by_json: list[bytes] = []
    with monkeypatch.context() as patched:
        loads = LoadsCounted(patched)
        fast_answers = []
        for number, (mutated, body) in enumerate(steps):
            before = loads.count
            fast_answers.append(fast.export(JSON, body, float(number)))
            if loads.count > before:
                read_by_json.append(layout(body))
                continue
            # Read from its text: the layout of a body read before, never one whose text
            # cannot be proved.
            assert layout(body) in read_by_json
            assert not (mutated and mutation in NEVER_CUT)
    assert fast.repeats > 2
    full_answers = [full.export(JSON, body, float(n)) for n, (_, body) in enumerate(steps)]
    assert fast_answers == full_answers
    assert fast.everything() == full.everything()


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.__name__)
def test_only_a_proved_text_is_cut(mutation: Callable[[str], str]) -> None:
    body = mutation(text_body(base_tokens(1)).decode()).encode()
    decoded = json.loads(body)
    readings = repeats_module._json_readings(decoded)
    assert readings is not None
    proved = [reading for reading in readings if reading is not None]
    assert len(proved) == len(readings)
    text = json_text.cut(body, decoded, proved)
    assert (text is None) == (mutation in NEVER_CUT)
    if text is not None:
        assert text.readings(body) == readings
