"""What the alerts page and the alert lists of the overview and job pages show, built on
the server from the alerting service's alerts and silences, in the shapes of `GET /alerts`
and `GET /silences`; and which Pushgateway groups an `absent` rule calls stale.

Rendered with the page, so a page (or its screenshot) never shows "Loading alerts…"; the
page then follows `alert.*` events by fetching itself again, as every page does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from batchgate.collector.alerting.api_json import alert_json
from batchgate.collector.core.model import JobKey
from batchgate.collector.http.web import severities
from batchgate.collector.http.web.pages import job_href, run_href
from batchgate.rules import Alert, Rule
from batchgate.rules.alerts import FIRING, PENDING, RESOLVED
from batchgate.rules.silences import EXPIRED, Silence

RESOLVED_SHOWN: Final = 50
"""Recently resolved alerts on the alerts page."""
LISTED: Final = 20
"""Alerts in the list of the overview or a job page."""
_OPERATORS: Final = {
    (False, True): "=",
    (False, False): "!=",
    (True, True): "=~",
    (True, False): "!~",
}
"""A matcher's operator by (isRegex, isEqual)."""
_SHOWN_ELSEWHERE: Final = ("alertname", "job", "severity", "run_id")
"""Labels an alert's line shows in their own place, not among its other labels."""


class AlertSource:
    """The alerts and silences of one moment, and how loud each severity is drawn."""

    def __init__(
        self, alerts: list[Alert], silences: Iterable[Silence], rules: Iterable[Rule], now: float
    ) -> None:
        self.alerts = alerts
        self.silences = list(silences)
        self.now = now
        self.ordered = severities.ranks_from_tiers(severities.tier_lists(rules))
        self._rules = {rule.name: rule.kind.name for rule in rules}

    def rank(self, alert: Alert) -> int:
        """How loud the alert's severity is drawn (`severities.rank`)."""
        return severities.rank(alert.severity, self.ordered)

    def view(self, alert: Alert) -> dict[str, Any]:
        """An alert as `GET /alerts` shows it, plus what its line on a page needs."""
        data = alert_json(alert.to_dict())
        silenced = bool(alert.silenced_by) and alert.state != RESOLVED
        inhibited = bool(alert.inhibited_by) and alert.state != RESOLVED
        data["shown_state"] = "silenced" if silenced else "inhibited" if inhibited else alert.state
        data["rank"] = self.rank(alert)
        data["job_href"] = job_href(alert.job_name, alert.job[1])
        data["run_href"] = run_href(alert.run_id) if alert.run_id else None
        data["other_labels"] = {
            name: value for name, value in alert.labels.items() if name not in _SHOWN_ELSEWHERE
        }
        # What the silence form builds its matchers from (alerts.js).
        data["silence_of"] = {
            "alertname": alert.rule,
            "job": alert.job_name,
            "run_id": alert.run_id,
            "labels": dict(alert.labels),
        }
        return data

    def stale_groups(self) -> frozenset[JobKey]:
        """Jobs (Pushgateway groups among them) for which an `absent` rule's alert fires."""
        return frozenset(
            JobKey(*alert.job)
            for alert in self.alerts
            if alert.state == FIRING and self._rules.get(alert.rule) == "absent"
        )


def _recency(alert: Alert, key: str) -> float:
    value = getattr(alert, key)
    return -(value if value is not None else alert.active_at)


def _matches_text(alert: Alert, needle: str) -> bool:
    haystack = " ".join((alert.rule, alert.job_name, *alert.labels.values())).lower()
    return needle in haystack


def alerts_page(source: AlertSource, text: str = "") -> dict[str, Any]:
    """Firing (the loudest first), pending, silenced, inhibited and recently resolved alerts
    (those whose name, job or a label value contains `text`, in any case), the most recent
    first, and the silences not yet expired."""
    needle = text.strip().lower()
    shown = [a for a in source.alerts if not needle or _matches_text(a, needle)]
    silenced = [a for a in shown if a.state != RESOLVED and a.silenced_by]
    inhibited = [a for a in shown if a.state != RESOLVED and a.inhibited_by and not a.silenced_by]
    loud = [a for a in shown if a.state == RESOLVED or not (a.silenced_by or a.inhibited_by)]
    firing = sorted(
        (a for a in loud if a.state == FIRING),
        key=lambda a: (-source.rank(a), _recency(a, "fired_at")),
    )
    pending = sorted((a for a in loud if a.state == PENDING), key=lambda a: -a.active_at)
    resolved = sorted(
        (a for a in loud if a.state == RESOLVED), key=lambda a: _recency(a, "resolved_at")
    )[:RESOLVED_SHOWN]
    current = sorted(
        (s for s in source.silences if s.state(source.now) != EXPIRED), key=lambda s: s.ends_at
    )
    return {
        "filter_text": text.strip(),
        "sections": [
            ("Firing", "alerts-firing", [source.view(a) for a in firing], "Nothing is firing."),
            ("Pending", "alerts-pending", [source.view(a) for a in pending],
             "Nothing is pending."),
            ("Silenced", "alerts-silenced", [source.view(a) for a in silenced],
             "No alert is silenced."),
            ("Inhibited", "alerts-inhibited", [source.view(a) for a in inhibited],
             "No alert is held back by an inhibit rule."),
        ],
        "resolved": [source.view(a) for a in resolved],
        "silences": [_silence_view(s, source.now) for s in current],
    }  # fmt: skip


def alert_list(
    source: AlertSource,
    states: tuple[str, ...],
    job: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The alerts in `states` (of the job named `job` whose labels include `labels`, when
    given): firing first, then pending, then resolved; in each the silenced last, the
    loudest first, then the most recent."""
    order = {state: index for index, state in enumerate((FIRING, PENDING, RESOLVED))}
    wanted = dict(labels or {})
    chosen = [
        a
        for a in source.alerts
        if a.state in states
        and (job is None or a.job_name == job)
        and all(dict(a.job[1]).get(name) == value for name, value in wanted.items())
    ]
    chosen.sort(
        key=lambda a: (
            order[a.state],
            # silenced and inhibited after the loud ones
            a.state != RESOLVED and bool(a.silenced_by or a.inhibited_by),
            -source.rank(a),
            -(a.resolved_at or a.fired_at or a.active_at),
        )
    )
    return {"alerts": [source.view(a) for a in chosen[:LISTED]], "count": len(chosen)}


def _silence_view(silence: Silence, now: float) -> dict[str, Any]:
    view = silence.to_dict(now)
    view["matchers_text"] = ", ".join(_matcher_text(m) for m in view["matchers"])
    return view


def _matcher_text(matcher: Mapping[str, Any]) -> str:
    """`name="value"`, `name!="value"`, `name=~"value"` or `name!~"value"`, as amtool shows."""
    operator = _OPERATORS[(bool(matcher["isRegex"]), bool(matcher["isEqual"]))]
    return f'{matcher["name"]}{operator}"{matcher["value"]}"'
