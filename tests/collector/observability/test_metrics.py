"""GET /metrics: derived job metrics, batchgate's own metrics, both formats, promtool-clean."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable

from prometheus_client.parser import text_string_to_metric_families

from batchgate.collector.core.events import PushLimits
from tests.helpers import Client, Clock, get, need_program, push


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


async def test_it_exposes_the_last_value_of_each_custom_metric_by_name(
    client: Client, clock: Clock
) -> None:
    etl = {"job": "etl", "labels": {"env": "prod"}}

    async def metric() -> dict[str, float]:
        return {
            dict(labels)["name"]: value
            for (name, labels), value in _samples((await _scrape(client))[0]).items()
            if name == "batchgate_job_metric" and dict(labels)["job"] == "etl"
            and dict(labels)["env"] == "prod"
        }  # fmt: skip

    await push(client, {**etl, "event": "start", "run_id": "a",
                        "metrics": {"rows_per_second": 1200, "bytes_copied": 5e9}})  # fmt: skip
    assert await metric() == {"rows_per_second": 1200, "bytes_copied": 5e9}
    clock.advance(60)
    await push(client, {**etl, "event": "success", "run_id": "a",
                        "metrics": {"rows_per_second": 1250}})  # fmt: skip
    await push(client, {**etl, "event": "start", "run_id": "b"})
    # The next run has not reported them yet: the last values stay, as a pushed gauge would.
    assert await metric() == {"rows_per_second": 1250, "bytes_copied": 5e9}
    clock.advance(60)
    await push(client, {**etl, "event": "progress", "run_id": "b",
                        "metrics": {"rows_per_second": 900}})  # fmt: skip
    assert await metric() == {"rows_per_second": 900, "bytes_copied": 5e9}
    await push(client, {**etl, "event": "success", "run_id": "b"})
    assert await metric() == {"rows_per_second": 900}  # b finished without bytes_copied


async def test_a_jobs_own_name_label_is_kept_beside_the_metrics_name(client: Client) -> None:
    await push(client, {"job": "backup", "labels": {"name": "db1"}, "event": "success",
                        "metrics": {"bytes_copied": 42}})  # fmt: skip
    samples = _samples((await _scrape(client))[0])
    key = {"job": "backup", "name": "db1", "exported_name": "bytes_copied"}
    assert samples[("batchgate_job_metric", frozenset(key.items()))] == 42


async def test_custom_metrics_are_bounded_by_the_metrics_limit(
    start: Callable[..., Awaitable[Client]],
) -> None:
    client = await start(limits=PushLimits(max_metrics=3))
    run = {"job": "etl", "run_id": "a"}
    await push(client, {**run, "event": "start", "metrics": {"d": 4, "e": 5, "f": 6}})
    await push(client, {**run, "event": "progress", "metrics": {"a": 1, "b": 2, "c": 3}})
    assert len((await get(client, "/runs/a"))["metrics"]) == 6  # the run keeps all it reported
    names = {
        dict(labels)["name"]
        for name, labels in _samples((await _scrape(client))[0])
        if name == "batchgate_job_metric"
    }
    assert names == {"a", "b", "c"}  # /metrics: the limit's worth a job, in name order


async def test_a_label_value_that_reads_like_exposition_text_stays_a_value(
    client: Client,
) -> None:
    labels = {"note": "see # HELP x\n# TYPE x counter", "host": "db1"}
    await push(client, {"job": "a", "labels": labels, "event": "success",
                        "metrics": {"rows": 3}})  # fmt: skip
    await push(client, {"job": "b", "event": "success"})
    samples = _samples((await _scrape(client))[0])  # it was a 500: /metrics for nobody
    key = frozenset({"job": "a", **labels}.items())
    assert samples[("batchgate_job_runs_total", key | {("status", "succeeded")})] == 1
    assert samples[("batchgate_job_metric", key | {("name", "rows")})] == 3
    b = frozenset({"job": "b", "status": "succeeded"}.items())
    assert samples[("batchgate_job_runs_total", b)] == 1


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
    await push(client, {"job": "b", "event": "start", "progress": {"done": 1, "total": 9},
                        "metrics": {"rows_total": 7, "copy_ms": 3}})  # fmt: skip
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
    custom = {s.labels["name"]: s.value for s in families["batchgate_job_metric"].samples}
    assert custom == {"rows_total": 7, "copy_ms": 3}
    _, plain = await _scrape(client)
    assert plain.startswith("text/plain; version=0.0.4")


async def test_promtool_accepts_the_exposition(client: Client, clock: Clock) -> None:
    promtool = need_program("promtool")
    await push(client, [
        {"job": "etl", "labels": {"env": "prod", "shard": "1"}, "event": "start", "run_id": "x",
         "progress": {"done": 1, "total": 2}, "resources": {"cpu_percent": 5, "memory_bytes": 1},
         # Names a job may choose that promtool would refuse as metric names of their own
         # (camelCase, a unit abbreviated, a counter's or a histogram's suffix, a colon):
         # as values of batchgate_job_metric's `name` label they are clean.
         "metrics": {"rowsPerSecond": 1, "copy_ms": 2, "bytes_total": 3, "rows_count": 4,
                     "stage:load": 5}},
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
