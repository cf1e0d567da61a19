"""Alertmanager's API v2 served by batchgate, proven with the real amtool (Debian's
prometheus-alertmanager package): alert query, silence add, silence query, silence expire."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

from tests.collector.alerting.conftest import StartWith, webhook
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client, Clock, evaluate_rules, get, need_program, push

RULES = """
rules:
  - {name: JobFailed, kind: failure, severity: critical}
inhibit_rules:
  - source_matchers: ['alertname="JobFailed"', 'job="database"']
    target_matchers: ['job=~"etl_.*"']
"""


async def amtool(client: Client, *args: str) -> str:
    binary = need_program("amtool")
    url = str(client.make_url("/")).rstrip("/")
    done = await asyncio.to_thread(
        subprocess.run,
        [binary, f"--alertmanager.url={url}", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _json(client: Client, *args: str) -> Any:
    return json.loads(await amtool(client, "--output=json", *args))


async def test_amtool_queries_alerts_and_adds_queries_and_expires_silences(
    start_with: StartWith, receiver: WebhookReceiver, clock: Clock
) -> None:
    clock.advance(time.time() - clock.now)  # amtool dates its silences by the real clock
    client = await start_with(receivers=webhook(receiver), rules=RULES)
    await push(client, {"job": "backup", "labels": {"env": "prod"}, "event": "fail"})
    await push(client, {"job": "database", "event": "fail"})
    await push(client, {"job": "etl_orders", "event": "fail"})
    await receiver.wait_for(1)

    alerts = await _json(client, "alert", "query")
    assert sorted(a["labels"]["job"] for a in alerts) == ["backup", "database"]
    backup = next(a for a in alerts if a["labels"]["job"] == "backup")
    assert backup["labels"] == {
        "alertname": "JobFailed", "env": "prod", "job": "backup", "severity": "critical",
    }  # fmt: skip
    assert backup["status"]["state"] == "active"
    assert backup["receivers"] == [{"name": "ops"}]
    held = await _json(client, "alert", "query", "--inhibited", "job=~etl_.*")
    assert [(a["labels"]["job"], a["status"]["state"]) for a in held] == [
        ("etl_orders", "suppressed")
    ]
    (prod,) = await _json(client, "alert", "query", 'env="prod"')
    assert prod["fingerprint"] == backup["fingerprint"]

    silence_id = (
        await amtool(
            client, "silence", "add", "job=backup", "--duration=2h",
            "--author=alice", "--comment=restoring the backup host",
        )
    ).strip()  # fmt: skip
    clock.advance(time.time() - clock.now + 1)  # it starts now by the real clock
    # amtool dated the silence by the real clock, which may be ahead of the server's: it
    # then began pending, and the alerts it matches are silenced by the next pass.
    await evaluate_rules(client)
    (silence,) = await _json(client, "silence", "query")
    assert silence["id"] == silence_id
    assert silence["matchers"] == [
        {"name": "job", "value": "backup", "isRegex": False, "isEqual": True}
    ]
    assert (silence["createdBy"], silence["status"]["state"]) == ("alice", "active")
    assert await _json(client, "silence", "query", "job=database") == []
    (listed,) = (await get(client, "/alerts", job="backup"))["alerts"]
    assert listed["silenced_by"] == [silence_id]
    after = await _json(client, "alert", "query", "--silenced", "job=backup")
    assert after[0]["status"] == {
        "state": "suppressed", "silencedBy": [silence_id], "inhibitedBy": [],
    }  # fmt: skip

    # amtool tells expired silences by its own clock: the server's must not be ahead of it.
    clock.now = time.time() - 1
    await amtool(client, "silence", "expire", silence_id)
    assert await _json(client, "silence", "query") == []  # amtool lists active ones
    assert (await get(client, f"/silences/{silence_id}"))["status"] == {"state": "expired"}
    entries = (await get(client, "/audit"))["entries"]
    assert {(e["action"], e["target"]) for e in entries} >= {
        ("silence.create", silence_id), ("silence.expire", silence_id),
    }  # fmt: skip
    shown = await amtool(client, "config", "show")  # GET /api/v2/status
    assert shown.strip() == ""  # batchgate's receivers are in its own config file


async def test_the_shapes_hold_to_the_openapi_document_and_bad_filters_are_named(
    start_with: StartWith, clock: Clock
) -> None:
    client = await start_with(rules=RULES)
    await push(client, {"job": "backup", "event": "fail"})
    await evaluate_rules(client)
    (alert,) = await get(client, "/api/v2/alerts", filter='job="backup"')
    assert alert["status"]["state"] == "active"
    assert alert["startsAt"] == "2023-11-14T22:13:20Z"
    assert await get(client, "/api/v2/alerts", active="false") == []
    status = await get(client, "/api/v2/status")
    assert status["cluster"]["status"] == "disabled"
    assert await get(client, "/api/v2/silences") == []

    refused = await get(client, "/api/v2/alerts", 400, filter="job=~(")
    assert refused["details"][0]["field"] == "filter[0]"
    missing = await client.delete("/api/v2/silence/6db0aece-5706-4e58-9750-a7830b374fe1")
    assert missing.status == 404
