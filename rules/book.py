"""The alert book: every alert's lifecycle, and the notifications due to each receiver.

pending -> firing (once the condition has held for the rule's `for`) -> resolved (the condition
no longer holds). A pending alert whose condition ends is dropped. A firing alert's severity
follows the rule's tiers as the problem lasts. Which receiver must be told what is decided from
what each receiver was last told (recorded on the alert, and persisted with it), so the decision
survives restarts: a firing alert restored from the database is not sent again as new.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from batchgate.rules.alerts import (
    FIRING,
    PENDING,
    RESOLVED,
    Alert,
    Delivery,
    Evaluation,
    Notification,
    Transition,
    alert_id,
)
from batchgate.rules.facts import JobKeyTuple
from batchgate.rules.inhibition import Inhibitions, InhibitRule
from batchgate.rules.kinds import INFINITY, Condition
from batchgate.rules.ruleset import Rule

RESOLVED_RETENTION: Final = 15 * 60.0
"""How long a resolved alert stays in the book (and in /alerts) by default."""

GroupKey = tuple[str, JobKeyTuple]
"""(rule name, job key): the alerts of one rule for one job, by run id (None when per job)."""


class Route(Protocol):
    """What the book needs of a receiver (rules.receivers.Receiver satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def repeat_interval(self) -> float: ...
    @property
    def send_resolved(self) -> bool: ...


class Router(Protocol):
    """Which receivers get an alert with these labels (rules.receivers.Router satisfies it)."""

    def route(self, labels: Mapping[str, str]) -> Sequence[Route]: ...
    def get(self, name: str) -> Route | None: ...


class Keyed(Protocol):
    """What the book reads of a job (or of a fleet of jobs): its key, the alert's labels."""

    @property
    def key(self) -> JobKeyTuple: ...


class SilenceLike(Protocol):
    """What the book needs of a silence (rules.silences.Silence satisfies it)."""

    @property
    def id(self) -> str: ...
    def matches(self, labels: Mapping[str, str], now: float) -> bool: ...
    def state(self, now: float) -> str: ...
    def __hash__(self) -> int: ...


class _NoRoutes:
    def route(self, labels: Mapping[str, str]) -> Sequence[Route]:
        return ()

    def get(self, name: str) -> Route | None:
        return None


class AlertBook:
    """Active alerts (pending and firing) and recently resolved ones, by id."""

    def __init__(
        self, *, router: Router | None = None, resolved_retention: float = RESOLVED_RETENTION
    ) -> None:
        self.router: Router = router or _NoRoutes()
        self.resolved_retention = resolved_retention
        self.active: dict[str, Alert] = {}
        """Pending and firing alerts, by id."""
        self.resolved: dict[str, Alert] = {}
        """Alerts resolved within the retention, by id (for /alerts: "recently resolved")."""
        self.groups: dict[GroupKey, dict[str | None, Alert]] = {}
        # What keeps refresh() proportional to what changed rather than to every alert:
        self._dirty: set[str] = set()
        """Alerts whose notifications must be decided again (new state, labels, restored)."""
        self._repeats: list[tuple[float, str]] = []
        """A heap of (when a repeat is next due, alert id); stale entries are skipped."""
        self._next_repeat: dict[str, float] = {}
        self._silences_seen: frozenset[SilenceLike] | None = None
        """The silences in effect at the last refresh: when they change, every alert is
        checked against them again."""
        self.inhibitions = Inhibitions()
        """Which alerts hold which back (`inhibit_rules:`), kept one alert change at a time."""

    def set_inhibit_rules(self, rules: Sequence[InhibitRule]) -> None:
        """Use these inhibit rules (a reload); every alert is judged again at the next refresh."""
        if not rules and not self.inhibitions:
            return
        self.inhibitions = Inhibitions(rules)
        self._dirty.update(self.active)

    def set_router(self, router: Router) -> None:
        """Use new receivers (a config reload); every alert's notifications are decided again
        at the next refresh (a new receiver is told of alerts already firing)."""
        self.router = router
        self._dirty.update(self.active)

    # -- persistence -------------------------------------------------------------------------

    def restore(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Load alerts saved with `Alert.to_dict()` (replacing the book's content)."""
        self.active.clear()
        self.resolved.clear()
        self.groups.clear()
        loaded = sorted((Alert.from_dict(data) for data in alerts), key=_resolution_order)
        for alert in loaded:
            if alert.state == RESOLVED:
                self.resolved[alert.id] = alert
            else:
                self.active[alert.id] = alert
                self.groups.setdefault((alert.rule, alert.job), {})[alert.run_id] = alert
        self._dirty = set(self.active)
        self._repeats.clear()
        self._next_repeat.clear()
        self._silences_seen = None
        self.inhibitions = Inhibitions(self.inhibitions.rules)

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every alert in the book as `Alert.to_dict()`; `restore` takes this back."""
        return [alert.to_dict() for alert in (*self.active.values(), *self.resolved.values())]

    def alerts(self) -> list[Alert]:
        """Active alerts then recently resolved ones."""
        return [*self.active.values(), *self.resolved.values()]

    # -- lifecycle ---------------------------------------------------------------------------

    def observe(
        self,
        rule: Rule,
        job: Keyed,
        conditions: Sequence[Condition],
        now: float,
        out: Evaluation,
    ) -> float:
        """Apply one rule's verdict on one job; returns the next time the book itself needs to
        look again (a pending alert's `for` ends, a severity tier begins), or INFINITY."""
        key = (rule.name, job.key)
        group = self.groups.get(key)
        deadline = INFINITY
        if conditions:
            if group is None:
                group = self.groups[key] = {}
            for condition in conditions:
                alert = group.get(condition.run_id)
                if alert is None:
                    alert = group[condition.run_id] = self._open(rule, job, condition, now, out)
                else:
                    alert.value = condition.value
                deadline = min(deadline, self._advance(rule, job, alert, condition, now, out))
        if group is not None:
            if len(group) > len(conditions):
                holding = {condition.run_id for condition in conditions}
                for run_id in [run_id for run_id in group if run_id not in holding]:
                    self._close(group.pop(run_id), now, out)
            if not group:
                del self.groups[key]
        return deadline

    def close_group(self, key: GroupKey, now: float, out: Evaluation) -> None:
        """End every alert of a (rule, job) pair: the job is gone, or the rule no longer applies."""
        group = self.groups.pop(key, None)
        for alert in (group or {}).values():
            self._close(alert, now, out)

    def _open(
        self, rule: Rule, job: Keyed, condition: Condition, now: float, out: Evaluation
    ) -> Alert:
        identity = alert_id(rule.name, job.key, condition.run_id)
        self.resolved.pop(identity, None)  # a new episode replaces the last one's record
        active_at = condition.active_at if condition.active_at is not None else now
        since = condition.since if condition.since is not None else active_at
        severity = rule.severity_at(_elapsed(condition, since, now))
        alert = Alert(
            id=identity,
            rule=rule.name,
            job=(job.key[0], job.key[1]),
            run_id=condition.run_id,
            state=PENDING,
            severity=severity,
            labels=_labels(rule, job, condition.run_id, severity),
            annotations={},
            value=condition.value,
            active_at=min(active_at, now),
        )
        self.active[identity] = alert
        self._dirty.add(identity)
        if now < alert.active_at + rule.hold:  # otherwise it fires at once, in _advance
            alert.annotations = _render(rule, job, condition, alert, now)
            out.transitions.append(Transition("pending", identity, now, alert.to_dict()))
        out.changed[identity] = alert
        return alert

    def _advance(
        self,
        rule: Rule,
        job: Keyed,
        alert: Alert,
        condition: Condition,
        now: float,
        out: Evaluation,
    ) -> float:
        since = condition.since if condition.since is not None else alert.active_at
        elapsed = _elapsed(condition, since, now)
        severity = rule.severity_at(elapsed)
        if alert.state == PENDING:
            fires_at = alert.active_at + rule.hold
            if now < fires_at:
                if severity != alert.severity:
                    self._set_severity(rule, job, alert, severity, out)
                return fires_at
            alert.state = FIRING
            alert.fired_at = now
            self._set_severity(rule, job, alert, severity, out)
            alert.annotations = _render(rule, job, condition, alert, now)
            out.transitions.append(Transition("firing", alert.id, now, alert.to_dict()))
        elif severity != alert.severity:
            previous = alert.severity
            self._set_severity(rule, job, alert, severity, out)
            alert.annotations = _render(rule, job, condition, alert, now)
            out.transitions.append(Transition("severity", alert.id, now, alert.to_dict(), previous))
        if condition.until is not None:
            return INFINITY  # the problem is over (a finished run): its severity is settled
        next_tier = rule.next_tier_after(elapsed)
        return INFINITY if next_tier is None else since + next_tier

    def _set_severity(
        self, rule: Rule, job: Keyed, alert: Alert, severity: str, out: Evaluation
    ) -> None:
        alert.severity = severity
        alert.labels = _labels(rule, job, alert.run_id, severity)
        out.changed[alert.id] = alert
        self._dirty.add(alert.id)

    def _close(self, alert: Alert, now: float, out: Evaluation) -> None:
        del self.active[alert.id]
        self._dirty.discard(alert.id)
        self._next_repeat.pop(alert.id, None)
        if self.inhibitions:
            # The alerts it held back are judged again at the next refresh: released.
            self._dirty.update(self.inhibitions.remove(alert.id))
            alert.inhibited_by = ()
        if alert.state == PENDING:
            out.transitions.append(Transition("dropped", alert.id, now, alert.to_dict()))
            out.changed.pop(alert.id, None)
            out.removed.add(alert.id)
            return
        alert.state = RESOLVED
        alert.resolved_at = now
        self.resolved[alert.id] = alert
        out.changed[alert.id] = alert
        out.transitions.append(Transition("resolved", alert.id, now, alert.to_dict()))
        self._notify(alert, now, out)

    # -- silences, notifications, retention --------------------------------------------------

    def refresh(
        self,
        now: float,
        out: Evaluation,
        silences: Sequence[SilenceLike] = (),
        alerts: Iterable[Alert] | None = None,
    ) -> None:
        """Mark silenced alerts, decide the notifications due, and forget resolved alerts past
        their retention. `alerts` limits the work to some alerts (after one job's evaluation).

        The work is proportional to the alerts that changed and the repeats that fell due,
        except when the silences in effect change: then every alert is checked again."""
        if alerts is not None:
            targets = {alert.id: alert for alert in alerts if alert.id in self.active}
            self._dirty.difference_update(targets)
        else:
            in_effect = frozenset(s for s in silences if s.state(now) == "active")
            if in_effect != self._silences_seen:
                self._silences_seen = in_effect
                self._dirty.update(self.active)
            targets = {key: self.active[key] for key in self._dirty if key in self.active}
            self._dirty.clear()
            repeats = self._repeats
            while repeats and repeats[0][0] <= now:
                due, key = heapq.heappop(repeats)
                if self._next_repeat.get(key) == due and key in self.active:
                    targets[key] = self.active[key]
        if self.inhibitions:
            self._inhibit(targets, alerts is None)
        for alert in targets.values():
            alert.silenced_by = tuple(s.id for s in silences if s.matches(alert.labels, now))
            if alert.state == FIRING:
                self._notify(alert, now, out)
        if alerts is None:
            self._expire(now, out)

    def _inhibit(self, targets: dict[str, Alert], everything: bool) -> None:
        """File the changed alerts with the inhibit rules, then say which of them, and of the
        alerts their change affects, are held back. When only some alerts are refreshed (one
        job's), the other affected alerts wait for the next refresh."""
        inhibitions = self.inhibitions
        affected: set[str] = set()
        for alert in targets.values():
            affected.update(inhibitions.update(alert.id, alert.labels, alert.state == FIRING))
        for key in affected:
            other = self.active.get(key)
            if other is None or key in targets:
                continue
            if everything:
                targets[key] = other
            else:
                self._dirty.add(key)
        for alert in targets.values():
            alert.inhibited_by = inhibitions.inhibited_by(alert.id)

    def _expire(self, now: float, out: Evaluation) -> None:
        horizon = now - self.resolved_retention
        # Resolved alerts are kept in the order they resolved: the oldest come first.
        expired = []
        for alert in self.resolved.values():
            if (alert.resolved_at if alert.resolved_at is not None else now) > horizon:
                break
            expired.append(alert.id)
        for key in expired:
            del self.resolved[key]
            out.changed.pop(key, None)
            out.removed.add(key)

    def _notify(self, alert: Alert, now: float, out: Evaluation) -> None:
        """Decide what each receiver must be told about `alert` now, and record it as told."""
        routes = self.router.route(alert.labels) if alert.state == FIRING else ()
        routed = {route.name for route in routes}
        if alert.state == FIRING and not alert.silenced_by and not alert.inhibited_by:
            next_repeat = INFINITY
            for route in routes:
                told = alert.deliveries.get(route.name)
                if told is None or told.status != FIRING:
                    reason = "firing"
                elif told.labels != alert.labels:
                    reason = "severity"
                elif now >= told.at + route.repeat_interval:
                    reason = "repeat"
                else:
                    next_repeat = min(next_repeat, told.at + route.repeat_interval)
                    continue
                stale = told.labels if told is not None and reason == "severity" else None
                self._deliver(alert, route.name, reason, FIRING, alert.labels, stale, now, out)
                next_repeat = min(next_repeat, now + route.repeat_interval)
            self._schedule_repeat(alert.id, next_repeat)
        # Whoever was told it fires, and no longer gets it (resolved, or no longer routed to
        # them), is told it is resolved: even when silenced, so no receiver keeps a ghost.
        for name, told in list(alert.deliveries.items()):
            if told.status != FIRING or name in routed:
                continue
            receiver = self.router.get(name)
            if receiver is None:
                del alert.deliveries[name]  # a receiver that is no longer configured
                out.changed[alert.id] = alert
            elif receiver.send_resolved:
                self._deliver(alert, name, "resolved", RESOLVED, told.labels, None, now, out)
            else:
                alert.deliveries[name] = Delivery(now, RESOLVED, told.labels)
                out.changed[alert.id] = alert

    def _schedule_repeat(self, key: str, due: float) -> None:
        if due == INFINITY:
            self._next_repeat.pop(key, None)
        elif self._next_repeat.get(key) != due:
            self._next_repeat[key] = due
            heapq.heappush(self._repeats, (due, key))

    def _deliver(
        self,
        alert: Alert,
        receiver: str,
        reason: str,
        status: str,
        labels: dict[str, str],
        stale: dict[str, str] | None,
        now: float,
        out: Evaluation,
    ) -> None:
        ends_at = (alert.resolved_at or now) if status == RESOLVED else None
        out.notifications.append(
            Notification(
                receiver=receiver,
                reason=reason,
                status=status,
                alert_id=alert.id,
                job=alert.job_name,
                run_id=alert.run_id,
                labels=dict(labels),
                annotations=dict(alert.annotations),
                starts_at=alert.fired_at if alert.fired_at is not None else alert.active_at,
                ends_at=ends_at,
                at=now,
                stale_labels=None if stale is None else dict(stale),
            )
        )
        alert.deliveries[receiver] = Delivery(now, status, dict(labels))
        out.changed[alert.id] = alert


def _resolution_order(alert: Alert) -> float:
    return alert.resolved_at if alert.resolved_at is not None else -INFINITY


def _elapsed(condition: Condition, since: float, now: float) -> float:
    return (condition.until if condition.until is not None else now) - since


def _labels(rule: Rule, job: Keyed, run_id: str | None, severity: str) -> dict[str, str]:
    """Job grouping labels, then the rule's labels, then the ones batchgate sets (which win)."""
    labels = dict(job.key[1])
    labels.update(rule.labels)
    labels["alertname"] = rule.name
    labels["job"] = job.key[0]
    if run_id is not None:
        labels["run_id"] = run_id
    labels["severity"] = severity
    return labels


def _render(
    rule: Rule, job: Keyed, condition: Condition, alert: Alert, now: float
) -> dict[str, str]:
    # A kind that says more than its value (which assertion failed) says it on every alert,
    # whether or not the rule has templates; a template of the same name wins.
    rendered = {} if condition.detail is None else {"detail": condition.detail}
    if not rule.annotations:
        return rendered
    context = {
        "job": job.key[0],
        "job_labels": dict(job.key[1]),
        "labels": alert.labels,
        "run": condition.run,
        "value": condition.value,
        "detail": condition.detail,
        "severity": alert.severity,
        "rule": rule.name,
        "state": alert.state,
        "active_at": alert.active_at,
        "now": now,
    }
    rendered.update((name, template.render_safely(context)) for name, template in rule.annotations)
    return rendered
