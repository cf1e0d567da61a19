"""Job names are label values, as cron and Kubernetes users write them: dashes, dots,
accents, spaces. Each works everywhere a job appears; only control characters and `/` are
refused, with the reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families

from batchgate import Connection, Job
from tests.collector.alerting.conftest import alerting
from tests.helpers import Client, checked, get, push

Start = Callable[..., Awaitable[Client]]
NAMES = ["nightly-backup", "etl.orders", "rapport-été", "weekly report"]


@pytest.mark.parametrize("name", NAMES)
async def test_a_push_a_ping_and_the_queries_take_the_name(client: Client, name: str) -> None:
    path = quote(name, safe="")
    await push(client, {"job": name, "event": "start", "run_id": "r1"})
    pinged = await client.get(f"/ping/{path}/0", params={"rid": "r1"})
    assert await pinged.text() == "OK\n"

    (job,) = (await get(client, "/jobs"))["jobs"]
    assert (job["job"], job["status"]) == (name, "succeeded")
    assert (await get(client, f"/jobs/{path}"))["job"] == name
    (run,) = (await get(client, f"/jobs/{path}/runs"))["runs"]
    assert run["run_id"] == "r1"
    page = await client.get(f"/ui/jobs/{path}")
    assert page.status == 200
    assert name in await page.text()


@pytest.mark.parametrize("name", NAMES)
async def test_metrics_carry_it_as_the_job_label(client: Client, name: str) -> None:
    await push(client, {"job": name, "event": "success", "duration_seconds": 3})
    text = await (await client.get("/metrics")).text()
    jobs = {
        sample.labels.get("job")
        for family in text_string_to_metric_families(text)
        if family.name.startswith("batchgate_job_")
        for sample in family.samples
    }
    assert name in jobs


async def test_rules_match_it_and_alerts_name_it(start: Start, tmp_path: Path) -> None:
    rules = """
rules:
  - name: NightlyFailed
    match: {job: "nightly-*"}
    kind: failure
"""
    client = await start(alerting=alerting(tmp_path, rules=rules))
    await push(client, {"job": "nightly-backup", "event": "fail", "message": "tape jammed"})
    await push(client, {"job": "rapport-été", "event": "fail"})
    (alert,) = (await get(client, "/alerts"))["alerts"]
    assert (alert["alertname"], alert["job"]) == ("NightlyFailed", "nightly-backup")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must be a non-empty string"),
        ("backups/db1", "must not contain '/'"),
        ("two\nlines", "must not contain a control or invalid character ('\\n')"),
        ("x" * 1025, "is longer than 1024 characters (limits.max_label_value_length)"),
    ],
)
async def test_what_cannot_be_a_name_is_refused_with_the_reason(
    client: Client, name: str, reason: str
) -> None:
    refused = await checked(await client.post("/push", json={"job": name, "event": "start"}), 400)
    assert refused["details"] == [{"index": 0, "field": "job", "reason": reason}]
    assert (await get(client, "/jobs"))["jobs"] == []


@pytest.mark.parametrize("name", NAMES)
def test_the_sdk_takes_the_name(name: str) -> None:
    job = Job(name, connection=Connection.resolve("http://127.0.0.1:9", spool_dir="off"))
    assert job.name == name


@pytest.mark.parametrize("name", ["", "a/b", "tab\there"])
def test_the_sdk_refuses_what_the_collector_would(name: str) -> None:
    with pytest.raises(ValueError, match="job name"):
        Job(name, connection=Connection.resolve("http://127.0.0.1:9", spool_dir="off"))


async def test_the_longest_name_fits_in_a_url(client: Client) -> None:
    name = "🗄" * 1024  # four bytes of UTF-8 each: 12,288 bytes percent-encoded
    await push(client, {"job": name, "event": "success"})
    assert (await get(client, f"/jobs/{quote(name, safe='')}"))["job"] == name
    assert (await client.get(f"/ui/jobs/{quote(name, safe='')}")).status == 200
