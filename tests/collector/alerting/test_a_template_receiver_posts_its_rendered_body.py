"""A `template` receiver (a Slack or Teams incoming webhook) gets its jinja2 body, rendered
with the webhook message's fields, and its headers."""

from __future__ import annotations

from tests.collector.alerting.conftest import StartWith
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import push


async def test_it_posts_the_rendered_body(start_with: StartWith, receiver: WebhookReceiver) -> None:
    receivers = f"""\
  - name: slack
    template:
      url: "{receiver.url}"
      headers: {{X-Alert: "{{{{ commonLabels.alertname }}}}"}}
      body: |
        {{"text": {{{{ ("[" ~ status | upper ~ "] " ~ commonLabels.alertname ~ ": "
                     ~ (commonAnnotations.summary or "")) | tojson }}}}}}
"""
    client = await start_with(receivers=receivers)
    await push(client, {"job": "backup", "event": "fail"})
    (message,) = await receiver.wait_for(1)
    assert message == {"text": "[FIRING] JobFailed: backup failed"}
    assert receiver.headers[0]["X-Alert"] == "JobFailed"
    assert receiver.headers[0]["Content-Type"] == "application/json"
    await push(client, {"job": "backup", "event": "success"})
    _, resolved = await receiver.wait_for(2)
    assert resolved == {"text": "[RESOLVED] JobFailed: backup failed"}
