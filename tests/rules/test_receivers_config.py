"""The `receivers:` section: the three integrations, options, and file:line errors."""

from batchgate.rules.receivers import (
    ALERTMANAGER_RESEND_INTERVAL,
    DEFAULT_REPEAT_INTERVAL,
    Router,
    load_receivers,
)

FULL = """\
rules_files: [rules.yaml]
receivers:
  - name: ops
    webhook: {url: "https://hooks.example/ops", headers: {X-Token: abc}, max_alerts: 10}
    send_resolved: false
    repeat_interval: 30m
    timeout: 3s
    group_by: [alertname]
  - name: am
    alertmanager: {url: "http://am.example:9093/api/v2/alerts"}
  - name: teams
    template:
      url: https://outlook.example/webhook
      method: PUT
      body: '{"text": {{ status | tojson }}}'
    match: {job: "re:etl_.*", severity: [critical, high]}
"""


def test_every_option_is_read():
    receivers, errors = load_receivers(FULL, "batchgate.yaml")

    assert errors == []
    ops, am, teams = receivers
    assert ops.headers == (("X-Token", "abc"),)
    assert (ops.send_resolved, ops.repeat_interval, ops.timeout) == (False, 1800.0, 3.0)
    assert (ops.group_by, ops.max_alerts, ops.line) == (("alertname",), 10, 3)
    assert am.url == "http://am.example:9093/api/v2/alerts"
    assert am.repeat_interval == ALERTMANAGER_RESEND_INTERVAL
    assert teams.method == "PUT"
    assert teams.repeat_interval == DEFAULT_REPEAT_INTERVAL


def test_routing_sends_an_alert_to_every_matching_receiver():
    receivers, _ = load_receivers(FULL)
    router = Router(receivers)

    critical = {"alertname": "A", "job": "etl_x", "severity": "critical"}
    low = {"alertname": "A", "job": "etl_x", "severity": "low"}

    assert [r.name for r in router.route(critical)] == ["ops", "am", "teams"]
    assert [r.name for r in router.route(low)] == ["ops", "am"]
    assert router.get("am") is receivers[1]
    assert router.get("gone") is None


def test_errors_name_their_lines():
    text = """\
receivers:
  - name: a
    webhook: {url: "ftp://nope"}
  - name: b
    webhook: {url: "http://x.example"}
    alertmanager: {url: "http://y.example"}
  - name: c
    template: {url: "http://x.example", body: "{{ oops"}
  - name: d
    webhook: {url: "http://x.example", urll: 1}
    repeat: 1h
  - name: d
    webhook: {url: "http://x.example"}
  - webhook: {url: "http://x.example"}
"""
    _, errors = load_receivers(text, "batchgate.yaml")

    assert [(e.line, e.reason) for e in sorted(errors)] == [
        (3, "webhook.url: 'ftp://nope' is not an http(s) URL"),
        (
            4,
            "receiver 'b': give exactly one of webhook, alertmanager, template "
            "(found webhook, alertmanager)",
        ),
        (
            8,
            "template.body: template error: "
            "unexpected end of template, expected 'end of print statement'.",
        ),
        (10, "webhook: unknown key 'urll' (did you mean 'url'?)"),
        (11, "receiver 'd': unknown key 'repeat' (did you mean 'repeat_interval'?)"),
        (14, "receiver: missing required key 'name'"),
    ]


def test_a_duplicate_name_is_an_error():
    text = """\
receivers:
  - {name: a, webhook: {url: "http://x.example"}}
  - {name: a, webhook: {url: "http://y.example"}}
"""
    _, errors = load_receivers(text, "batchgate.yaml")

    assert [(e.line, e.reason) for e in errors] == [
        (3, "receiver 'a': duplicate name (first at line 2)")
    ]


def test_no_receivers_key_means_no_receivers():
    assert load_receivers("evaluation_interval: 5s\n") == ([], [])
