"""`batchgate_queue_*` on /metrics: each queue's depth, oldest wait, finished runs and
waits, labelled `queue`, and promtool-clean."""

from __future__ import annotations

import asyncio
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Client, Clock, need_program, push


def _event(event: str, run_id: str, **fields: object) -> dict[str, object]:
    return {"job": "app.tasks.resize", "event": event, "run_id": run_id, "queue": "images",
            **fields}  # fmt: skip


async def test_each_queue_has_its_depth_oldest_wait_runs_and_waits(
    client: Client, clock: Clock
) -> None:
    await push(client, [_event("queued", "a"), _event("queued", "b"), _event("queued", "c")])
    clock.advance(3)
    await push(client, [_event("start", "a"), _event("start", "b")])
    clock.advance(1)
    await push(client, [_event("success", "a"), _event("fail", "b")])
    response = await client.get("/metrics")
    text = await response.text()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    queue = frozenset({("queue", "images")})
    assert samples[("batchgate_queue_waiting", queue)] == 1
    assert samples[("batchgate_queue_active", queue)] == 0
    assert samples[("batchgate_queue_oldest_waiting_seconds", queue)] == 4
    assert samples[("batchgate_queue_runs_total", queue | {("status", "succeeded")})] == 1
    assert samples[("batchgate_queue_runs_total", queue | {("status", "failed")})] == 1
    assert samples[("batchgate_queue_wait_seconds_count", queue)] == 2
    assert samples[("batchgate_queue_wait_seconds_sum", queue)] == 6
    assert samples[("batchgate_queue_wait_seconds_bucket", queue | {("le", "5.0")})] == 2
    assert samples[("batchgate_queue_wait_seconds_bucket", queue | {("le", "1.0")})] == 0

    promtool = need_program("promtool")
    checked = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=text, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
