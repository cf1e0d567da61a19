"""Records to rows and rows back to the model, where PostgreSQL differs from SQLite.

PostgreSQL's text cannot hold the character U+0000, which SQLite stores like any other.
A run's message, an event id, a Pushgateway job name or snapshot, an audit target may
carry one (a command's output, a label value pushed as protobuf), and a row the server
refuses would fail its whole group commit again at every retry. So the text columns
written from what clients send go through `to_text`: U+0000 is stored as U+FFFF "0", and
U+FFFF itself (a noncharacter, never in ordinary text) as U+FFFF U+FFFF; `from_text` undoes
it. Text without either character, nearly all of it, is stored as it is. JSON columns need
none of this: `json.dumps` writes U+0000 as an escape.
"""

from __future__ import annotations

import hashlib
import re
from operator import itemgetter
from typing import Any

from batchgate.collector.core.model import Job, Run
from batchgate.collector.core.records import (
    NOT_PROGRESS_COLUMNS,
    JobRecord,
    PointRecord,
    RunRecord,
)
from batchgate.collector.storage.store import job_from_record, job_key_of, run_from_record

_ESCAPE = "\uffff"
_ESCAPED = re.compile("\uffff([\uffff0])")


def to_text(value: str) -> str:
    """The text as stored: see the module's docstring."""
    if "\x00" not in value and _ESCAPE not in value:
        return value
    return value.replace(_ESCAPE, _ESCAPE * 2).replace("\x00", _ESCAPE + "0")


def to_text_or_none(value: str | None) -> str | None:
    return None if value is None else to_text(value)


def from_text(value: str) -> str:
    """The text as written: the inverse of `to_text`."""
    if _ESCAPE not in value:
        return value
    return _ESCAPED.sub(lambda found: "\x00" if found[1] == "0" else _ESCAPE, value)


def from_text_or_none(value: str | None) -> str | None:
    return None if value is None else from_text(value)


def digest(*parts: str) -> bytes:
    """A key's SHA-256, for keys longer than an index entry may be (see `schema`)."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).digest()


JOB_COLUMNS = (*JobRecord._fields, "key_digest")
RUN_COLUMNS = RunRecord._fields
POINT_COLUMNS = PointRecord._fields
_RUN_MESSAGE = RUN_COLUMNS.index("message")
_POINT_MESSAGE = POINT_COLUMNS.index("message")

PROGRESS_COLUMNS = tuple(c for c in RUN_COLUMNS if c not in NOT_PROGRESS_COLUMNS)
"""What a progress-only update of a run writes: not the indexed status, end, duration and
queue."""
_progress_values = itemgetter(*(RUN_COLUMNS.index(c) for c in PROGRESS_COLUMNS))


def job_row(record: tuple[Any, ...]) -> tuple[Any, ...]:
    name, labels = record[1], record[2]
    return (record[0], to_text(name), *record[2:], digest(name, labels))


def run_row(record: tuple[Any, ...]) -> tuple[Any, ...]:
    message = record[_RUN_MESSAGE]
    if message is None or ("\x00" not in message and _ESCAPE not in message):
        return record
    return (*record[:_RUN_MESSAGE], to_text(message), *record[_RUN_MESSAGE + 1 :])


def run_progress_row(record: tuple[Any, ...]) -> tuple[Any, ...]:
    """The progress columns, then the run id (the UPDATE's parameters)."""
    return (*_progress_values(run_row(record)), record[0])


def point_row(record: tuple[Any, ...]) -> tuple[Any, ...]:
    message = record[_POINT_MESSAGE]
    if message is None or ("\x00" not in message and _ESCAPE not in message):
        return record
    return (*record[:_POINT_MESSAGE], to_text(message), *record[_POINT_MESSAGE + 1 :])


def alert_event_row(record: tuple[Any, ...]) -> tuple[Any, ...]:
    at, event, alert_id, rule, job, labels, run_id, severity, value, summary = record
    return (
        at, event, to_text(alert_id), to_text(rule), to_text(job), labels,
        to_text_or_none(run_id), to_text(severity), value, to_text_or_none(summary),
    )  # fmt: skip


def run_record(row: Any) -> RunRecord:
    record = RunRecord(*row[: len(RUN_COLUMNS)])
    if record.message is not None and _ESCAPE in record.message:
        record = record._replace(message=from_text(record.message))
    return record


def point_record(row: Any) -> PointRecord:
    record = PointRecord(*row)
    if record.message is not None and _ESCAPE in record.message:
        record = record._replace(message=from_text(record.message))
    return record


def job_from_row(row: Any, recent_runs: int) -> tuple[Job, str | None]:
    """A stored job (its columns in JobRecord's order) and the id of its last run."""
    record = JobRecord(row[0], from_text(row[1]), *row[2 : len(JobRecord._fields)])
    job = job_from_record(record, recent_runs)
    return job, record.last_run_id


def run_from_joined_row(row: Any) -> Run:
    """A stored run: its columns in RunRecord's order, then its job's name and labels."""
    name, labels = row[len(RUN_COLUMNS)], row[len(RUN_COLUMNS) + 1]
    return run_from_record(run_record(row), job_key_of(from_text(name), labels))
