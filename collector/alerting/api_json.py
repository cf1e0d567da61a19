"""The JSON shape of an alert, as `GET /alerts` lists it and `GET /events` sends it, and of
the schedules `missed` rules expect of a job (`GET /jobs/{job}`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from batchgate.collector.core.api_json import finite_number, rfc3339
from batchgate.collector.core.records import AlertEventRecord
from batchgate.rules import Context, JobFacts, Rule
from batchgate.rules.kinds.declared import DeclaredMissed
from batchgate.rules.kinds.schedule import Missed


def alert_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """An alert for the API, from its `Alert.to_dict()` form."""
    silenced_by = list(data.get("silenced_by") or ())
    inhibited_by = list(data.get("inhibited_by") or ())
    return {
        "id": data["id"],
        "fingerprint": data["fingerprint"],
        "alertname": data["rule"],
        "state": data["state"],
        "severity": data["severity"],
        "silenced": bool(silenced_by),
        "silenced_by": silenced_by,
        "inhibited": bool(inhibited_by),
        "inhibited_by": inhibited_by,
        "job": data["job"],
        "job_labels": dict(data.get("job_labels") or {}),
        "labels": dict(data["labels"]),
        "annotations": dict(data.get("annotations") or {}),
        "run_id": data.get("run_id"),
        "value": finite_number(data.get("value")),
        "active_at": rfc3339(data["active_at"]),
        "fired_at": rfc3339(data.get("fired_at")),
        "resolved_at": rfc3339(data.get("resolved_at")),
        "notified": [
            {"receiver": name, "status": told["status"], "at": rfc3339(told["at"])}
            for name, told in sorted(dict(data.get("deliveries") or {}).items())
        ],
    }


def alert_event_json(row_id: int, event: AlertEventRecord) -> dict[str, Any]:
    """A line of the alert history (`GET /alerts/history`)."""
    return {
        "id": row_id,
        "at": rfc3339(event.at),
        "event": event.event,
        "alert_id": event.alert_id,
        "alertname": event.rule,
        "job": event.job,
        "job_labels": json.loads(event.job_labels),
        "run_id": event.run_id,
        "severity": event.severity,
        "value": event.value,
        "summary": event.summary,
    }


def schedules_json(
    rules: tuple[Rule, ...], job: JobFacts, now: float, context: Context
) -> list[dict[str, Any]]:
    """What the job's `missed` rules expect of it: its schedule, and when its next run is due."""
    shown = []
    for rule in rules:
        kind: Any = rule.kind
        declared = isinstance(kind, DeclaredMissed)
        if declared:
            kind = kind.missed_for(job)  # the job's own schedule, if it declared one
        if isinstance(kind, Missed):
            cron = kind.ticks
            due = kind.next_due(job, now, context)
            shown.append(
                {
                    "rule": rule.name,
                    "schedule": cron.expression if cron is not None else None,
                    "timezone": kind.timezone if cron is not None else None,
                    "interval_seconds": kind.interval,
                    "grace_seconds": kind.grace,
                    "next_due_at": rfc3339(due) if math.isfinite(due) else None,
                    "declared": declared,
                }
            )
    return shown
