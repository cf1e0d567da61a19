"""The `outcome` kind: assertions on a finished run ("too fast, too little").

A backup that "succeeded" in 2 seconds with nothing written is a failure its exit code hides.
An `outcome` rule states what a good finished run looks like (`duration: {below: 1m}`,
`done: {below: 1000}`, `errors: {above: 0}`, `metrics: {bytes_written: {below: 1MB}}`) and
fires on the job's last finished run when one of them fails, naming it and its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import yaml

from batchgate.rules.durations import format_bytes, format_duration
from batchgate.rules.facts import SUCCEEDED, JobFacts, Readings, RunFacts
from batchgate.rules.kinds.base import INFINITY, NO_CONDITIONS, Condition, Context
from batchgate.rules.yaml_reader import Fields, Reader

MEASURES: Final = ("duration", *Readings.FIELDS)
"""What a run reports that an assertion may name directly; anything else goes under `metrics`."""
OUTCOME_STATUSES: Final = ("succeeded", "failed", "cancelled", "lost")
_BYTE_MEASURES: Final = frozenset({"memory_bytes", "io_read_bytes", "io_write_bytes"})
_BOUNDS: Final = ("below", "above")


@dataclass(frozen=True, slots=True)
class Assertion:
    """A measure of a finished run and the bound that makes the run bad: `below` fires when the
    value is lower (or missing: a run that says nothing of its records did not do enough),
    `above` when it is higher (a missing value is not above anything)."""

    measure: str
    bound: str
    limit: float
    metric: bool = False
    """Whether `measure` is a custom metric of the run (`metrics:`) rather than a built-in."""

    def value_of(self, run: RunFacts) -> float | None:
        if self.metric:
            return run.metrics.get(self.measure)
        if self.measure == "duration":
            return run.duration
        value: float | None = getattr(run.readings, self.measure)
        return value

    def fails(self, value: float | None) -> bool:
        if value is None:
            return self.bound == "below"
        return value < self.limit if self.bound == "below" else value > self.limit

    def describe(self, value: float | None) -> str:
        """What failed, for people: `duration 2s below 1m`, `done not reported (below 1000)`."""
        name = f"metrics.{self.measure}" if self.metric else self.measure
        limit = self._format(self.limit)
        if value is None:
            return f"{name} not reported (must not be {self.bound} {limit})"
        return f"{name} {self._format(value)} {self.bound} {limit}"

    def _format(self, number: float) -> str:
        if not self.metric and self.measure == "duration":
            return format_duration(number)
        if not self.metric and self.measure in _BYTE_MEASURES:
            return format_bytes(number)
        return f"{number:g}"


def _numeric(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith((":int", ":float"))


def _parse_bounds(
    reader: Reader, node: yaml.Node, measure: str, what: str, metric: bool
) -> list[Assertion] | None:
    fields = reader.mapping(node, what)
    if fields is None:
        return None
    found: list[Assertion] = []
    ok = True
    for bound in _BOUNDS:
        value_node = fields.take(bound)
        if value_node is None:
            continue
        where = f"{what}.{bound}"
        if not metric and measure == "duration":
            limit = reader.duration(value_node, where)
        elif not metric and measure in _BYTE_MEASURES:
            limit = reader.size(value_node, where)
        elif metric and not _numeric(value_node):
            limit = reader.size(value_node, where)  # a custom metric may count bytes: 1MB
        else:
            limit = reader.number(value_node, where)
        if limit is None:
            ok = False
        else:
            found.append(Assertion(measure, bound, limit, metric))
    fields.reject_unknown(_BOUNDS)
    if not found:
        if ok and not fields.node.value:  # otherwise its unknown keys are reported
            reader.error(node, f"{what}: give 'below', 'above' or both")
        return None
    below = [a.limit for a in found if a.bound == "below"]
    above = [a.limit for a in found if a.bound == "above"]
    if ok and below and above and below[0] > above[0]:
        reason = f"'below' {below[0]:g} is over 'above' {above[0]:g}: every run fails"
        reader.error(node, f"{what}: {reason}")
        return None
    return found if ok else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The job's last finished run (by default only a successful one) fails an assertion.

    One alert per run: it resolves when a later run finishes and passes them all. The alert's
    `value` is the first failed assertion's value, and its `detail` annotation names every
    failed assertion with its value. Elapsed time (tiers) counts from when the run finished.
    """

    name: ClassVar[str] = "outcome"
    per_run: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = (*MEASURES, "metrics", "statuses")

    assertions: tuple[Assertion, ...]
    statuses: frozenset[str] = frozenset({SUCCEEDED})

    @classmethod
    def parse(cls, fields: Fields) -> Outcome | None:
        reader = fields.reader
        assertions: list[Assertion] = []
        ok = True
        for measure in MEASURES:
            node = fields.take(measure)
            if node is not None:
                parsed = _parse_bounds(reader, node, measure, measure, metric=False)
                ok = ok and parsed is not None
                assertions.extend(parsed or ())
        metrics_node = fields.take("metrics")
        if metrics_node is not None:
            metrics = reader.mapping(metrics_node, "metrics")
            if metrics is None:
                ok = False
            for metric, node in metrics.items() if metrics is not None else ():
                parsed = _parse_bounds(reader, node, metric, f"metrics.{metric}", metric=True)
                ok = ok and parsed is not None
                assertions.extend(parsed or ())
        statuses: frozenset[str] = frozenset({SUCCEEDED})
        statuses_node = fields.take("statuses")
        if statuses_node is not None:
            values = reader.strings(statuses_node, "statuses")
            unknown = [value for value in values or () if value not in OUTCOME_STATUSES]
            if unknown:
                reader.error(
                    statuses_node,
                    f"statuses: {', '.join(map(repr, unknown))} not one of "
                    f"{', '.join(OUTCOME_STATUSES)}",
                )
            if values is None or unknown:
                return None
            statuses = frozenset(values)
        if ok and not assertions:
            reader.error(
                fields.node,
                f"outcome: give at least one assertion ({', '.join(MEASURES)} or metrics)",
            )
            return None
        return cls(tuple(assertions), statuses) if ok else None

    def evaluate(
        self, job: JobFacts, now: float, context: Context
    ) -> tuple[Sequence[Condition], float]:
        run = job.last_finished
        if run is None or run.status not in self.statuses or run.run_id in job.running:
            return NO_CONDITIONS, INFINITY
        failed: list[tuple[Assertion, float | None]] = []
        for assertion in self.assertions:
            value = assertion.value_of(run)
            if assertion.fails(value):
                failed.append((assertion, value))
        if not failed:
            return NO_CONDITIONS, INFINITY
        finished = run.finished_at if run.finished_at is not None else run.last_event_at
        first_value = failed[0][1]
        detail = "; ".join(assertion.describe(value) for assertion, value in failed)
        condition = Condition(
            run.run_id,
            run,
            first_value if first_value is not None else 0.0,
            finished,
            detail=detail,
        )
        return (condition,), INFINITY
