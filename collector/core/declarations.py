"""Schedules declared by the jobs themselves, at the collector's doors: reading them from a
push's `schedule` object and from `/ping`'s query parameters, and the audit entry of a change.

Pure: `at` (the event's time) and `now` come in. The declaration itself, and what judges a
job by it, live in `batchgate.rules.declarations` and `batchgate.rules.kinds.declared`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from batchgate.collector.core.model import Job
from batchgate.collector.core.records import AuditRecord
from batchgate.rules.declarations import FIELDS, Declaration, parse_declaration

PUSH_NAMES: Final = {name: f"schedule.{name}" for name in FIELDS}
"""How `POST /push` names the parts of `schedule` in its errors."""
PING_PARAMETERS: Final = {
    "cron": "schedule",
    "timezone": "tz",
    "grace": "grace",
    "max_runtime": "max_runtime",
    "finish_within": "finish_within",
}
"""`/ping`'s query parameters for each part of a declaration."""
AUDIT_ACTION: Final = "job.declare"


def declaration_from_push(
    value: Any, at: float, fail: Callable[[str, str], None]
) -> Declaration | None:
    """The `schedule` object of a pushed event (`{"cron": "0 2 * * *", "timezone":
    "Europe/Berlin", "grace": "30m", "max_runtime": "2h"}`); each problem goes to `fail`."""
    if value is None:
        return None
    if not isinstance(value, dict):
        fail("schedule", f"must be an object with {', '.join(FIELDS)}")
        return None
    unknown = sorted(set(value) - set(FIELDS))
    for name in unknown:
        fail(f"schedule.{name}", f"unknown field ({', '.join(FIELDS)})")
    if not value:
        fail("schedule", "is empty: give at least cron or max_runtime")
        return None
    declaration, errors = parse_declaration(value, PUSH_NAMES, at)
    for field, reason in errors:
        fail(field, reason)
    return None if unknown else declaration


def declaration_from_query(
    query: Mapping[str, str], at: float
) -> tuple[Declaration | None, list[tuple[str, str]]]:
    """A declaration from `/ping`'s `schedule=`, `tz=`, `grace=`, `max_runtime=`,
    `finish_within=`, and the (parameter, reason) of each problem."""
    values = {name: query.get(parameter) for name, parameter in PING_PARAMETERS.items()}
    return parse_declaration(values, PING_PARAMETERS, at)


def declaration_audit(who: str, job: Job, previous: Declaration | None, now: float) -> AuditRecord:
    """The audit entry of a job's declaration changing from `previous` to its current one."""
    assert job.declaration is not None
    details = {
        "declared": job.declaration.describe(),
        "previous": previous.describe() if previous is not None else None,
    }
    return AuditRecord(now, who, AUDIT_ACTION, str(job.key), json.dumps(details, sort_keys=True))
