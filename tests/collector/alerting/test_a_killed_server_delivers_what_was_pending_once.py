"""A real server killed with SIGKILL while a notification waits for a dead receiver: the
notification was committed with the push, so after the restart it is delivered, once."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import ServerProcess, free_port


async def test_it_delivers_after_a_kill_and_restart_exactly_once(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    receiver = WebhookReceiver(free_port())  # down for now
    config = tmp_path / "batchgate.yaml"
    config.write_text(
        "evaluation_interval: 100ms\n"
        "notifications: {retry_initial: 50ms, retry_max: 200ms}\n"
        f'receivers:\n  - {{name: ops, webhook: {{url: "{receiver.url}"}}}}\n'
    )
    server = server_process("--config", str(config))
    body = json.dumps({"job": "backup", "event": "fail", "message": "tape jammed"}).encode()
    request = urllib.request.Request(
        f"{server.url}/push", body, {"Content-Type": "application/json"}
    )
    with await asyncio.to_thread(urllib.request.urlopen, request, timeout=10) as answer:
        assert answer.status == 200  # acknowledged: durable, with its notification
    server.kill()

    await receiver.start()
    try:
        restarted = server_process("--config", str(config), data_dir=server.data_dir)
        (message,) = await receiver.wait_for(1)
        assert message["alerts"][0]["labels"] == {
            "alertname": "JobFailed",
            "job": "backup",
            "severity": "warning",
        }
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1
        assert restarted.stop() == 0

        server_process("--config", str(config), data_dir=server.data_dir)
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1, "a delivered notification is not sent again"
    finally:
        await receiver.stop()
