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
from collections.abc import Callable
from typing import Any

import pytest

from batchgate.collector.core.state import State, StateSettings
from batchgate.collector.groups import Groups
from batchgate.collector.http.handlers.otlp import error_message
from batchgate.collector.otlp import OtlpBodyError, Repeat, read_export
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
