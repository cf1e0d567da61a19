"""Payloads in the shapes that Alertmanager's receivers and Alertmanager itself expect."""

import json

import pytest

from batchgate.rules.alerts import Notification
from batchgate.rules.payloads import (
    ZERO_TIME,
    build_requests,
    format_time,
    generator_url,
    group_notifications,
    webhook_message,
)
from batchgate.rules.receivers import load_receivers
from batchgate.rules.templates import TemplateRenderError

# A webhook body as Alertmanager 0.25 sends it (the sample of the alertmanager-webhook-types
# crate): the shape batchgate's webhook must have, key for key and type for type.
ALERTMANAGER_SAMPLE = json.loads(
    r"""
{
  "receiver": "sms",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "ProbeFailure", "instance": "https://server.example.org",
                 "job": "http_checks", "monitor": "master", "severity": "critical"},
      "annotations": {"summary": "BlackBox Probe Failure: https://server.example.org"},
      "startsAt": "2023-02-06T13:08:45.828Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
      "fingerprint": "1a30ba71cca2921f"
    }
  ],
  "groupLabels": {"alertname": "ProbeFailure"},
  "commonLabels": {"alertname": "ProbeFailure", "severity": "critical"},
  "commonAnnotations": {"summary": "BlackBox Probe Failure: https://server.example.org"},
  "externalURL": "http://prometheus.example.org:9093",
  "version": "4",
  "groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",
  "truncatedAlerts": 0
}
"""
)
T = 1_714_521_600.0  # 2024-05-01T00:00:00Z
EXTERNAL = "http://batchgate.example:9091"


def _receivers(text):
    receivers, errors = load_receivers(text)
    assert errors == []
    return {receiver.name: receiver for receiver in receivers}


RECEIVERS = _receivers(
    """
receivers:
  - name: ops
    webhook: {url: "http://hooks.example/ops", headers: {Authorization: "Bearer s3cret"}}
    timeout: 5s
  - name: am
    alertmanager: {url: "http://127.0.0.1:9093/"}
  - name: slack
    template:
      url: https://hooks.slack.example/services/T0/B0/x
      headers: {X-Alert-Count: "{{ alerts | length }}"}
      body: |
        {"text": {{ ("[" ~ status | upper ~ "] " ~ commonLabels.alertname ~ " " ~ commonAnnotations.summary) | tojson }}}
"""  # noqa: E501
)


def _notification(receiver="ops", status="firing", job="etl", severity="critical", **extra):
    labels = {"alertname": "JobFailed", "job": job, "severity": severity}
    return Notification(
        receiver=receiver,
        reason=extra.pop("reason", "firing"),
        status=status,
        alert_id="abc",
        job=job,
        run_id=extra.pop("run_id", None),
        labels=labels,
        annotations={"summary": f"{job} failed"},
        starts_at=T,
        ends_at=T + 300 if status == "resolved" else None,
        at=T + 300,
        **extra,
    )


def _shape(value):
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()} if value else {}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_the_webhook_message_has_alertmanagers_shape_key_for_key():
    message = webhook_message(
        RECEIVERS["ops"], [_notification()], external_url=EXTERNAL, now=T + 300
    )

    assert set(message) == set(ALERTMANAGER_SAMPLE)
    assert set(message["alerts"][0]) == set(ALERTMANAGER_SAMPLE["alerts"][0])
    for key in ("version", "status", "receiver", "externalURL", "groupKey", "truncatedAlerts"):
        assert _shape(message[key]) == _shape(ALERTMANAGER_SAMPLE[key]), key
    for key in ("status", "startsAt", "endsAt", "generatorURL", "fingerprint"):
        assert _shape(message["alerts"][0][key]) == _shape(ALERTMANAGER_SAMPLE["alerts"][0][key])


def test_the_webhook_message_values():
    message = webhook_message(
        RECEIVERS["ops"], [_notification(run_id="r 1")], external_url=EXTERNAL, now=T + 300
    )

    assert message == {
        "receiver": "ops",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "JobFailed", "job": "etl", "severity": "critical"},
                "annotations": {"summary": "etl failed"},
                "startsAt": "2024-05-01T00:00:00Z",
                "endsAt": ZERO_TIME,
                "generatorURL": f"{EXTERNAL}/ui/runs/r%201",
                "fingerprint": "23315893fb0ed23e",
            }
        ],
        "groupLabels": {"alertname": "JobFailed", "job": "etl"},
        "commonLabels": {"alertname": "JobFailed", "job": "etl", "severity": "critical"},
        "commonAnnotations": {"summary": "etl failed"},
        "externalURL": EXTERNAL,
        "version": "4",
        "groupKey": '{}/{receiver="ops"}:{alertname="JobFailed", job="etl"}',
        "truncatedAlerts": 0,
    }


def test_a_resolved_alert_has_its_end_time_and_the_group_is_resolved():
    message = webhook_message(
        RECEIVERS["ops"], [_notification(status="resolved")], external_url=EXTERNAL, now=T + 300
    )

    assert message["status"] == "resolved"
    assert message["alerts"][0]["endsAt"] == "2024-05-01T00:05:00Z"


def test_a_severity_change_sends_the_old_labels_as_resolved_and_the_new_as_firing():
    old = {"alertname": "JobFailed", "job": "etl", "severity": "low"}
    notification = _notification(reason="severity", stale_labels=old)

    message = webhook_message(RECEIVERS["ops"], [notification], external_url=EXTERNAL, now=T + 300)

    assert [(a["status"], a["labels"]["severity"]) for a in message["alerts"]] == [
        ("resolved", "low"),
        ("firing", "critical"),
    ]
    assert message["status"] == "firing"
    assert message["commonLabels"] == {"alertname": "JobFailed", "job": "etl"}


def test_common_labels_are_those_all_alerts_share():
    message = webhook_message(
        RECEIVERS["ops"],
        [_notification(), _notification(severity="high")],
        external_url=EXTERNAL,
        now=T,
    )

    assert message["commonLabels"] == {"alertname": "JobFailed", "job": "etl"}


def test_notifications_are_grouped_by_alertname_and_job_one_request_each():
    notifications = [_notification(job="a"), _notification(job="b"), _notification(job="a")]

    groups = group_notifications(RECEIVERS["ops"], notifications)
    requests = build_requests(RECEIVERS["ops"], notifications, external_url=EXTERNAL, now=T)

    assert [[n.job for n in group] for group in groups] == [["a", "a"], ["b"]]
    assert len(requests) == 2
    first = requests[0]
    assert (first.method, first.url, first.timeout) == ("POST", "http://hooks.example/ops", 5.0)
    assert first.headers == {"Content-Type": "application/json", "Authorization": "Bearer s3cret"}
    assert len(json.loads(first.body)["alerts"]) == 2


def test_max_alerts_truncates_as_alertmanager_does():
    receiver = _receivers(
        "receivers:\n  - {name: few, webhook: {url: 'http://h.example/', max_alerts: 1}}\n"
    )["few"]

    message = webhook_message(receiver, [_notification(), _notification()], external_url="", now=T)

    assert (len(message["alerts"]), message["truncatedAlerts"]) == (1, 1)


def test_alertmanager_body_is_a_list_of_postable_alerts_firing_ones_ending_in_the_future():
    notifications = [
        _notification(receiver="am"),
        _notification(receiver="am", status="resolved", job="other"),
    ]

    (request,) = build_requests(
        RECEIVERS["am"], notifications, external_url=EXTERNAL, now=T + 300, evaluation_interval=5
    )

    assert request.url == "http://127.0.0.1:9093/api/v2/alerts"
    assert json.loads(request.body) == [
        {
            "labels": {"alertname": "JobFailed", "job": "etl", "severity": "critical"},
            "annotations": {"summary": "etl failed"},
            "startsAt": "2024-05-01T00:00:00Z",
            "endsAt": "2024-05-01T00:09:00Z",  # now + 4 x the 1m resend interval
            "generatorURL": f"{EXTERNAL}/ui/jobs/etl",
        },
        {
            "labels": {"alertname": "JobFailed", "job": "other", "severity": "critical"},
            "annotations": {"summary": "other failed"},
            "startsAt": "2024-05-01T00:00:00Z",
            "endsAt": "2024-05-01T00:05:00Z",
            "generatorURL": f"{EXTERNAL}/ui/jobs/other",
        },
    ]


def test_alertmanager_gets_old_labels_ended_now_on_a_severity_change():
    old = {"alertname": "JobFailed", "job": "etl", "severity": "low"}
    (request,) = build_requests(
        RECEIVERS["am"],
        [_notification(receiver="am", reason="severity", stale_labels=old)],
        external_url=EXTERNAL,
        now=T + 300,
    )

    body = json.loads(request.body)
    assert [(a["labels"]["severity"], a["endsAt"]) for a in body] == [
        ("low", "2024-05-01T00:05:00Z"),
        ("critical", "2024-05-01T00:09:00Z"),
    ]


def test_a_template_receiver_renders_its_body_and_headers():
    (request,) = build_requests(
        RECEIVERS["slack"], [_notification(receiver="slack")], external_url=EXTERNAL, now=T
    )

    assert request.url == "https://hooks.slack.example/services/T0/B0/x"
    assert request.headers == {"Content-Type": "application/json", "X-Alert-Count": "1"}
    assert json.loads(request.body) == {"text": "[FIRING] JobFailed etl failed"}


def test_a_template_that_fails_to_render_raises_a_template_render_error():
    receiver = _receivers(
        "receivers:\n  - {name: t, template: {url: 'http://h.example/', body: '{{ 1 / 0 }}'}}\n"
    )["t"]

    with pytest.raises(TemplateRenderError):
        build_requests(receiver, [_notification(receiver="t")], external_url="", now=T)


def test_only_the_receivers_own_notifications_are_built():
    assert (
        build_requests(RECEIVERS["ops"], [_notification(receiver="am")], external_url="", now=T)
        == []
    )


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (T, "2024-05-01T00:00:00Z"),
        (T + 0.25, "2024-05-01T00:00:00.25Z"),
        (T + 0.123456, "2024-05-01T00:00:00.123456Z"),
    ],
)
def test_times_are_rfc3339_in_utc_as_go_prints_them(timestamp, text):
    assert format_time(timestamp) == text


def test_the_generator_url_links_to_the_job():
    assert generator_url("http://b.example/", "etl/x") == "http://b.example/ui/jobs/etl%2Fx"
    assert generator_url("http://b.example", "etl", "r 1") == "http://b.example/ui/runs/r%201"


def test_label_maps_are_encoded_with_sorted_keys_as_go_does():
    notification = _notification()
    notification.labels["aaa"] = "first"

    (request,) = build_requests(RECEIVERS["ops"], [notification], external_url="", now=T)

    labels = json.loads(request.body)["alerts"][0]["labels"]
    assert list(labels) == sorted(labels)
