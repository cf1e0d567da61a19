"""GET /metrics: derived job metrics, batchgate's own metrics, both formats, promtool-clean."""

from __future__ import annotations

import asyncio
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Client, Clock, need_program, push


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scrape(client: Client, accept: str = "") -> tuple[str, str]:
    response = await client.get("/metrics", headers={"Accept": accept} if accept else {})
    assert response.status == 200
    return await response.text(), response.headers["Content-Type"]


async def test_it_exposes_what_each_job_did(client: Client, clock: Clock) -> None:
    labels = {"env": "prod"}
    await push(client, {"job": "etl", "labels": labels, "event": "start", "run_id": "a"})
    clock.advance(90)
    await push(client, {"job": "etl", "labels": labels, "event": "success", "run_id": "a"})
    await push(client, {"job": "etl", "labels": labels, "event": "start", "run_id": "b",
                        "progress": {"done": 250, "total": 1000, "errors": 3},
                        "resources": {"cpu_percent": 87.5, "memory_bytes": 2e9}})  # fmt: skip
    text, _ = await _scrape(client)
    samples = _samples(text)
    key = frozenset({"job": "etl", "env": "prod"}.items())

    def value(name: str, **extra: str) -> float:
        return samples[(name, key | frozenset(extra.items()))]

    assert value("batchgate_job_last_start_timestamp_seconds") == clock.now
    assert value("batchgate_job_last_success_timestamp_seconds") == clock.now
    assert value("batchgate_job_last_duration_seconds") == 90
    assert value("batchgate_job_runs_total", status="succeeded") == 1
    assert value("batchgate_job_runs_total", status="failed") == 0
    assert value("batchgate_job_running") == 1
    assert value("batchgate_job_progress_ratio") == 0.25
    assert value("batchgate_job_records_processed") == 250
    assert value("batchgate_job_records_total") == 1000
    assert value("batchgate_job_errors") == 3
    assert value("batchgate_job_cpu_percent") == 87.5
    assert value("batchgate_job_memory_bytes") == 2e9
    assert value("batchgate_job_status", status="running") == 1
    assert value("batchgate_job_duration_seconds_bucket", le="60.0") == 0
    assert value("batchgate_job_duration_seconds_bucket", le="120.0") == 1
    assert value("batchgate_job_duration_seconds_count") == 1
    assert value("batchgate_job_duration_seconds_sum") == 90


async def test_it_exposes_its_own_health_and_traffic(client: Client) -> None:
    await push(client, {"job": "a", "event": "start"})
    await push(client, {"job": "a", "event": "nope"}, 400)
    samples = _samples((await _scrape(client))[0])
    assert samples[("batchgate_http_requests_total",
                    frozenset({"handler": "push", "code": "200"}.items()))] == 1  # fmt: skip
    assert samples[("batchgate_http_requests_total",
                    frozenset({"handler": "push", "code": "400"}.items()))] == 1  # fmt: skip
    assert samples[("batchgate_push_duration_seconds_count",
                    frozenset({"endpoint": "push"}.items()))] == 1  # fmt: skip
    assert samples[("batchgate_write_queue_length", frozenset())] == 0
    assert samples[("batchgate_jobs", frozenset())] == 1
    assert samples[("batchgate_store_healthy", frozenset())] == 1
    build = [k for k in samples if k[0] == "batchgate_build_info"]
    assert len(build) == 1


async def test_it_speaks_openmetrics_when_asked(client: Client) -> None:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )

    await push(client, {"job": "a", "event": "success", "duration_seconds": 3})
    await push(client, {"job": "b", "event": "start", "progress": {"done": 1, "total": 9}})
    text, content_type = await _scrape(client, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    assert text.count("# EOF") == 1
    # The strict OpenMetrics parser reads all of it: one format, whole.
    families = {family.name: family for family in openmetrics_families(text)}
    assert families["batchgate_job_runs"].type == "counter"
    runs = {
        s.labels["status"]: s.value
        for s in families["batchgate_job_runs"].samples
        if s.labels["job"] == "a"
    }
    assert runs["succeeded"] == 1
    assert families["batchgate_job_duration_seconds"].type == "histogram"
    (planned,) = families["batchgate_job_records_total"].samples
    assert (planned.labels, planned.value) == ({"job": "b"}, 9)
    _, plain = await _scrape(client)
    assert plain.startswith("text/plain; version=0.0.4")


async def test_promtool_accepts_the_exposition(client: Client, clock: Clock) -> None:
    promtool = need_program("promtool")
    await push(client, [
        {"job": "etl", "labels": {"env": "prod", "shard": "1"}, "event": "start", "run_id": "x",
         "progress": {"done": 1, "total": 2}, "resources": {"cpu_percent": 5, "memory_bytes": 1}},
        {"job": "backup", "event": "fail", "duration_seconds": 3},
    ])  # fmt: skip
    text, _ = await _scrape(client)
    # The default rules' JobFailed fires for backup: alerts are part of what promtool checks.
    firing = 'batchgate_alerts{alertname="JobFailed",alertstate="firing",job="backup",'
    assert firing + 'severity="warning"} 1.0' in text
    checked = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
