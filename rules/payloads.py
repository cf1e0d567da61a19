"""Building the HTTP requests that deliver notifications, without sending them.

- `webhook`: Alertmanager's webhook v4 JSON (notify/webhook and template.Data in
  prometheus/alertmanager), so receivers written for Alertmanager work unchanged.
- `alertmanager`: the body of Alertmanager's `POST /api/v2/alerts` (a list of postable alerts),
  as Prometheus' notifier sends it: a firing alert carries an `endsAt` a few resend intervals in
  the future (Alertmanager resolves it by itself if batchgate goes silent), a resolved one its
  resolution time.
- `template`: a jinja2 body and headers rendered with the same data as the webhook JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from batchgate.rules.alerts import FIRING, RESOLVED, Notification, fingerprint
from batchgate.rules.receivers import ALERTMANAGER, TEMPLATE, WEBHOOK, Receiver

ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Go's zero time: Alertmanager's `endsAt` for an alert that has not ended."""
WEBHOOK_VERSION: Final = "4"
JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request ready to send: the outbox sends it and retries it as it is."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float


def format_time(timestamp: float) -> str:
    """RFC 3339 in UTC as Go prints it: `2024-05-01T02:00:00Z`, `2024-05-01T02:00:00.25Z`."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def generator_url(external_url: str, job: str, run_id: str | None = None) -> str:
    """The link back to batchgate for an alert, for people: the run's page when there is a
    run, else the job's page (the dashboard's, not the JSON API's)."""
    base = external_url.rstrip("/")
    if run_id:
        return f"{base}/ui/runs/{quote(run_id, safe='')}"
    return f"{base}/ui/jobs/{quote(job, safe='')}"


def _sorted(mapping: Mapping[str, str]) -> dict[str, str]:
    # Go encodes maps with their keys sorted; so does Alertmanager's JSON.
    return dict(sorted(mapping.items()))


def _quote_meta(text: str) -> str:
    # Alertmanager passes the receiver name through Go's regexp.QuoteMeta; do the same.
    return "".join("\\" + char if char in r"\.+*?()|[]{}^$" else char for char in text)


def _labels_string(labels: Mapping[str, str]) -> str:
    """A label set as Prometheus prints it: `{alertname="X", job="Y"}`."""
    inner = ", ".join(
        f"{name}={json.dumps(labels[name], ensure_ascii=False)}" for name in sorted(labels)
    )
    return "{" + inner + "}"


def _entries(
    notification: Notification, external_url: str, *, ends_at_now: float
) -> list[dict[str, Any]]:
    """The alerts a notification stands for, in the webhook's shape: the alert itself, preceded
    by its stale labels as a resolved alert when its severity changed."""
    url = generator_url(external_url, notification.job, notification.run_id)
    starts = format_time(notification.starts_at)
    entries: list[dict[str, Any]] = []
    if notification.stale_labels is not None:
        entries.append(
            {
                "status": RESOLVED,
                "labels": _sorted(notification.stale_labels),
                "annotations": _sorted(notification.annotations),
                "startsAt": starts,
                "endsAt": format_time(ends_at_now),
                "generatorURL": url,
                "fingerprint": fingerprint(notification.stale_labels),
            }
        )
    resolved = notification.status == RESOLVED
    ends = notification.ends_at if notification.ends_at is not None else ends_at_now
    entries.append(
        {
            "status": notification.status,
            "labels": _sorted(notification.labels),
            "annotations": _sorted(notification.annotations),
            "startsAt": starts,
            "endsAt": format_time(ends) if resolved else ZERO_TIME,
            "generatorURL": url,
            "fingerprint": notification.fingerprint,
        }
    )
    return entries


def _common(mappings: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not mappings:
        return {}
    common = dict(mappings[0])
    for other in mappings[1:]:
        for name in [name for name, value in common.items() if other.get(name) != value]:
            del common[name]
    return common


def group_notifications(
    receiver: Receiver, notifications: Sequence[Notification]
) -> list[list[Notification]]:
    """Split one receiver's notifications into groups by its `group_by` labels, in order of
    first appearance: one webhook request per group, as Alertmanager sends one per group."""
    groups: dict[tuple[str, ...], list[Notification]] = {}
    for notification in notifications:
        key = tuple(notification.labels.get(name, "") for name in receiver.group_by)
        groups.setdefault(key, []).append(notification)
    return list(groups.values())


def webhook_message(
    receiver: Receiver, notifications: Sequence[Notification], *, external_url: str, now: float
) -> dict[str, Any]:
    """The webhook v4 JSON for one group of notifications (see `group_notifications`)."""
    alerts = [entry for n in notifications for entry in _entries(n, external_url, ends_at_now=now)]
    truncated = 0
    if receiver.max_alerts and len(alerts) > receiver.max_alerts:
        truncated = len(alerts) - receiver.max_alerts
        alerts = alerts[: receiver.max_alerts]
    first = notifications[0].labels if notifications else {}
    group_labels = {name: first[name] for name in receiver.group_by if name in first}
    status = FIRING if any(alert["status"] == FIRING for alert in alerts) else RESOLVED
    return {
        "receiver": _quote_meta(receiver.name),
        "status": status,
        "alerts": alerts,
        "groupLabels": _sorted(group_labels),
        "commonLabels": _sorted(_common([alert["labels"] for alert in alerts])),
        "commonAnnotations": _sorted(_common([alert["annotations"] for alert in alerts])),
        "externalURL": external_url,
        "version": WEBHOOK_VERSION,
        "groupKey": f'{{}}/{{receiver="{receiver.name}"}}:{_labels_string(group_labels)}',
        "truncatedAlerts": truncated,
    }


def alertmanager_alerts(
    notifications: Sequence[Notification], *, external_url: str, now: float, valid_for: float
) -> list[dict[str, Any]]:
    """The body of Alertmanager's `POST /api/v2/alerts`: postable alerts. A firing alert ends at
    `now + valid_for` unless re-sent (Prometheus uses 4 x its resend delay); a resolved one at
    its resolution time; labels that no longer apply (a severity change) end now."""
    body: list[dict[str, Any]] = []
    for notification in notifications:
        url = generator_url(external_url, notification.job, notification.run_id)
        starts = format_time(notification.starts_at)
        if notification.stale_labels is not None:
            body.append(
                _postable(notification.stale_labels, notification, starts, format_time(now), url)
            )
        if notification.status == FIRING:
            ends = format_time(now + valid_for)
        else:
            ends = format_time(notification.ends_at if notification.ends_at is not None else now)
        body.append(_postable(notification.labels, notification, starts, ends, url))
    return body


def _postable(
    labels: Mapping[str, str], notification: Notification, starts: str, ends: str, url: str
) -> dict[str, Any]:
    return {
        "labels": _sorted(labels),
        "annotations": _sorted(notification.annotations),
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": url,
    }


def template_context(
    receiver: Receiver, notifications: Sequence[Notification], *, external_url: str, now: float
) -> dict[str, Any]:
    """What `template` receivers' body and headers see: the webhook message's fields
    (`status`, `alerts`, `commonLabels`, `commonAnnotations`, `groupLabels`, `externalURL`,
    `receiver`, `groupKey`) and `now`."""
    context = webhook_message(receiver, notifications, external_url=external_url, now=now)
    context["receiver"] = receiver.name
    context["now"] = now
    return context


def build_requests(
    receiver: Receiver,
    notifications: Sequence[Notification],
    *,
    external_url: str,
    now: float,
    evaluation_interval: float = 0.0,
) -> list[HttpRequest]:
    """The requests that deliver `notifications` (all for `receiver`) at `now`.

    Build them when sending rather than when queueing: an Alertmanager body's `endsAt` is
    computed from `now`. Raises rules.templates.TemplateRenderError when a template receiver's
    template fails to render.
    """
    notifications = [n for n in notifications if n.receiver == receiver.name]
    if not notifications:
        return []
    if receiver.integration == ALERTMANAGER:
        valid_for = 4 * max(receiver.repeat_interval, evaluation_interval)
        body = alertmanager_alerts(
            notifications, external_url=external_url, now=now, valid_for=valid_for
        )
        return [_json_request(receiver, body)]
    requests: list[HttpRequest] = []
    for group in group_notifications(receiver, notifications):
        if receiver.integration == WEBHOOK:
            message = webhook_message(receiver, group, external_url=external_url, now=now)
            requests.append(_json_request(receiver, message))
        elif receiver.integration == TEMPLATE:
            requests.append(_template_request(receiver, group, external_url=external_url, now=now))
    return requests


def _json_request(receiver: Receiver, payload: Any) -> HttpRequest:
    headers = {"Content-Type": JSON, **dict(receiver.headers)}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return HttpRequest(receiver.method, receiver.url, headers, body, receiver.timeout)


def _template_request(
    receiver: Receiver, group: Sequence[Notification], *, external_url: str, now: float
) -> HttpRequest:
    assert receiver.body is not None
    context = template_context(receiver, group, external_url=external_url, now=now)
    headers = {"Content-Type": JSON}
    headers.update({name: template.render(context) for name, template in receiver.header_templates})
    body = receiver.body.render(context).encode()
    return HttpRequest(receiver.method, receiver.url, headers, body, receiver.timeout)
