"""Alerts, and what an evaluation reports about them: transitions and notifications due.

Everything here converts to and from plain dicts (JSON-ready) so that the server can persist the
alert book in SQLite and restore it after a restart without re-sending a firing alert as new.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from batchgate.rules.facts import JobKeyTuple

PENDING: Final = "pending"
FIRING: Final = "firing"
RESOLVED: Final = "resolved"
ALERT_STATES: Final = (PENDING, FIRING, RESOLVED)

_FNV_OFFSET: Final = 0xCBF29CE484222325
_FNV_PRIME: Final = 0x100000001B3
_MASK: Final = 0xFFFFFFFFFFFFFFFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (prometheus/common `LabelSet.Fingerprint`):
    64-bit FNV-1a over the sorted names and values, each followed by the byte 0xff, in hex."""
    return _fingerprint(tuple(sorted(labels.items())))


@functools.lru_cache(maxsize=1 << 16)
def _fingerprint(items: tuple[tuple[str, str], ...]) -> str:
    # Hashing byte by byte in Python costs ~10 us a label set; an alert's labels rarely
    # change, and it is asked for at every save and every notification: remember it.
    digest = _FNV_OFFSET
    for item in items:
        for part in item:
            for byte in part.encode():
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
            digest = ((digest ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


def alert_id(rule: str, job: JobKeyTuple, run_id: str | None) -> str:
    """The stable identity of an alert: its rule, its job (name and labels) and, for per-run
    rules, its run. Unlike the fingerprint, it does not change when the severity does."""
    parts = [rule, job[0], *(item for pair in job[1] for item in pair), "\x00", run_id or ""]
    return hashlib.blake2b("\xff".join(parts).encode(), digest_size=8).hexdigest()


def _labels_tuple(labels: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in dict(labels).items()))


@dataclass(slots=True)
class Delivery:
    """What one receiver was last told about an alert, and when."""

    at: float
    status: str
    labels: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "status": self.status, "labels": dict(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(float(data["at"]), str(data["status"]), dict(data["labels"]))


@dataclass(slots=True, eq=False)
class Alert:
    """One alert: a rule's condition holding for a job (or one of its runs)."""

    id: str
    rule: str
    job: JobKeyTuple
    run_id: str | None
    state: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float | None
    active_at: float
    """When the condition began to hold (from the job's timestamps where they tell)."""
    fired_at: float | None = None
    """When it started firing: the `startsAt` sent to receivers."""
    resolved_at: float | None = None
    """When it resolved: the `endsAt` sent to receivers."""
    silenced_by: tuple[str, ...] = ()
    """Ids of the silences muting it now (derived each pass; not a lifecycle state)."""
    inhibited_by: tuple[str, ...] = ()
    """Ids of the firing alerts inhibiting it now (`inhibit_rules:`; derived, as silenced_by)."""
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    """Per receiver name: what it was last told. This is what prevents re-sending after restart."""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def job_name(self) -> str:
        return self.job[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `Alert.from_dict` restores it exactly."""
        return {
            "id": self.id,
            "rule": self.rule,
            "job": self.job[0],
            "job_labels": dict(self.job[1]),
            "run_id": self.run_id,
            "state": self.state,
            "severity": self.severity,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "value": self.value,
            "active_at": self.active_at,
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "fingerprint": self.fingerprint,
            "silenced_by": list(self.silenced_by),
            "inhibited_by": list(self.inhibited_by),
            "deliveries": {name: d.to_dict() for name, d in sorted(self.deliveries.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        if data["state"] not in ALERT_STATES:
            raise ValueError(f"unknown alert state {data['state']!r}")
        job: JobKeyTuple = (str(data["job"]), _labels_tuple(data.get("job_labels") or {}))
        run_id = data.get("run_id")
        value = data.get("value")
        fired_at, resolved_at = data.get("fired_at"), data.get("resolved_at")
        return cls(
            id=str(data["id"]),
            rule=str(data["rule"]),
            job=job,
            run_id=None if run_id is None else str(run_id),
            state=str(data["state"]),
            severity=str(data["severity"]),
            labels={str(k): str(v) for k, v in dict(data["labels"]).items()},
            annotations={str(k): str(v) for k, v in dict(data.get("annotations") or {}).items()},
            value=None if value is None else float(value),
            active_at=float(data["active_at"]),
            fired_at=None if fired_at is None else float(fired_at),
            resolved_at=None if resolved_at is None else float(resolved_at),
            silenced_by=tuple(data.get("silenced_by") or ()),
            inhibited_by=tuple(data.get("inhibited_by") or ()),
            deliveries={
                str(name): Delivery.from_dict(d)
                for name, d in dict(data.get("deliveries") or {}).items()
            },
        )


TRANSITION_KINDS: Final = ("pending", "firing", "severity", "resolved", "dropped")
"""pending: a new alert waits out its `for`; firing: it fires; severity: a firing alert's severity
changed; resolved: a firing alert ended; dropped: a pending alert ended without firing."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of an alert's lifecycle in one evaluation, with the alert as it then was."""

    kind: str
    alert_id: str
    at: float
    alert: dict[str, Any]
    """`Alert.to_dict()` at the time of the transition (safe to publish on /events)."""
    previous_severity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "at": self.at, "alert": self.alert}
        if self.previous_severity is not None:
            data["previous_severity"] = self.previous_severity
        return data


NOTIFICATION_REASONS: Final = ("firing", "severity", "repeat", "resolved")


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert due to one receiver: what to tell it. The server puts it in its outbox and
    builds the request (rules.payloads) when it sends it."""

    receiver: str
    reason: str
    status: str
    """`firing` or `resolved`: the alert's status as this receiver must now see it."""
    alert_id: str
    job: str
    run_id: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float | None
    at: float
    """When the notification became due."""
    stale_labels: dict[str, str] | None = None
    """Labels this receiver was told before that no longer apply (the severity changed): the
    payloads include them as a resolved alert, so the receiver does not keep a ghost firing."""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "reason": self.reason,
            "status": self.status,
            "alert_id": self.alert_id,
            "job": self.job,
            "run_id": self.run_id,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "at": self.at,
            "stale_labels": None if self.stale_labels is None else dict(self.stale_labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        stale = data.get("stale_labels")
        ends_at = data.get("ends_at")
        run_id = data.get("run_id")
        return cls(
            receiver=str(data["receiver"]),
            reason=str(data["reason"]),
            status=str(data["status"]),
            alert_id=str(data["alert_id"]),
            job=str(data["job"]),
            run_id=None if run_id is None else str(run_id),
            labels=dict(data["labels"]),
            annotations=dict(data.get("annotations") or {}),
            starts_at=float(data["starts_at"]),
            ends_at=None if ends_at is None else float(ends_at),
            at=float(data["at"]),
            stale_labels=None if stale is None else dict(stale),
        )


@dataclass(slots=True)
class Evaluation:
    """What one evaluation changed: for /events, the outbox, and persistence.

    Persist `removed` (delete) then `changed` (upsert) together with the `notifications` put in
    the outbox, in one transaction: the deliveries recorded on the alerts and the outbox must
    agree, or a restart could re-send or lose a notification.
    """

    now: float
    transitions: list[Transition] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    changed: dict[str, Alert] = field(default_factory=dict)
    """Alerts whose persisted state changed, by id: upsert `alert.to_dict()`."""
    removed: set[str] = field(default_factory=set)
    """Ids of alerts that left the book (a pending alert dropped, a resolved one expired)."""
    late: dict[JobKeyTuple, float | None] = field(default_factory=dict)
    """Jobs whose lateness changed: when a `missed` rule says the job is late from
    (`Missed.late_from`; late while no run has started since), or None once none does."""
    jobs_evaluated: int = 0
    jobs_skipped: int = 0
