"""The JSON shape of an alert, as `GET /alerts` lists it and `GET /events` sends it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from collector.api_json import rfc3339


def alert_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """An alert for the API, from its `Alert.to_dict()` form."""
    value = data.get("value")
    silenced_by = list(data.get("silenced_by") or ())
    return {
        "id": data["id"],
        "fingerprint": data["fingerprint"],
        "alertname": data["rule"],
        "state": data["state"],
        "severity": data["severity"],
        "silenced": bool(silenced_by),
        "silenced_by": silenced_by,
        "job": data["job"],
        "job_labels": dict(data.get("job_labels") or {}),
        "labels": dict(data["labels"]),
        "annotations": dict(data.get("annotations") or {}),
        "run_id": data.get("run_id"),
        "value": value if isinstance(value, int | float) and math.isfinite(value) else None,
        "active_at": rfc3339(data["active_at"]),
        "fired_at": rfc3339(data.get("fired_at")),
        "resolved_at": rfc3339(data.get("resolved_at")),
        "notified": [
            {"receiver": name, "status": told["status"], "at": rfc3339(told["at"])}
            for name, told in sorted(dict(data.get("deliveries") or {}).items())
        ],
    }
