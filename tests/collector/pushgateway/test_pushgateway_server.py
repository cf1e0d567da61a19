"""The Pushgateway API inside batchgate: refusals as the Pushgateway words them, groups
durable across restarts, groups seen as jobs, expiry with a history, wipe, route prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from batchgate.collector.http.keys import INGEST, WRITER
from batchgate.collector.settings import PushgatewaySettings
from tests.collector.pushgateway.test_pushgateway_clients import labels, scrape
from tests.helpers import Client, Clock, get, push

Start = Callable[..., Awaitable[Client]]

TEXT = "text/plain; version=0.0.4"


async def put(client: Client, path: str, body: str, expect: int = 200) -> str:
    response = await client.put(path, data=body.encode(), headers={"Content-Type": TEXT})
    text = await response.text()
    assert response.status == expect, text
    return text


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/metrics/job/a", "some_metric{x=\"1\"} 1 1700000000000\n",
         "pushed metrics must not have timestamps"),
        ("/metrics/job@base64/!!!", "m 1\n", "invalid base64 encoding in job name"),
        ("/metrics/job/", "m 1\n", "job name is required"),
        ("/metrics/job/a/__secret/x", "m 1\n", "improper label name"),
        ("/metrics/job/a", "m{ 1\n", "text format parsing error in line 1"),
    ],
)  # fmt: skip
async def test_it_refuses_as_the_pushgateway_does(
    client: Client, path: str, body: str, message: str
) -> None:
    response = await client.put(path, data=body.encode(), headers={"Content-Type": TEXT})
    assert response.status == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert message in await response.text()


async def test_an_inconsistent_push_is_refused_and_marks_the_group_failed(
    client: Client, clock: Clock
) -> None:
    await put(client, "/metrics/job/a", "# TYPE shared gauge\nshared 1\n")
    await put(client, "/metrics/job/b", "# TYPE other gauge\nother 1\n")
    clock.advance(10)
    refused = await put(client, "/metrics/job/b", "# TYPE shared counter\nshared 2\n", 400)
    assert "shared" in refused
    series = await scrape(client)
    b = labels(job="b", instance="")
    assert series[("push_failure_time_seconds", b)] == clock.now
    assert series[("other", b)] == 1, "the refused push changed nothing else"
    assert series[("shared", labels(job="a", instance=""))] == 1
    (job,) = (await get(client, "/jobs", q="b"))["jobs"]
    assert job["kind"] == "pushgateway"
    assert job["status"] == "failed"
    assert job["pushgateway"]["last_push_successful"] is False


async def test_it_keeps_groups_across_a_restart(start: Start, clock: Clock) -> None:
    client = await start()
    await put(client, "/metrics/job/nightly/instance/db1", "# TYPE rows gauge\nrows 7\n")
    before = await scrape(client)
    await client.close()
    client = await start()
    after = await scrape(client)
    key = labels(job="nightly", instance="db1")
    assert after[("rows", key)] == before[("rows", key)] == 7
    assert after[("push_time_seconds", key)] == before[("push_time_seconds", key)]
    (job,) = (await get(client, "/jobs", kind="pushgateway"))["jobs"]
    assert (job["job"], job["labels"]) == ("nightly", {"instance": "db1"})


async def test_each_group_is_a_job_of_kind_pushgateway(client: Client, clock: Clock) -> None:
    await put(client, "/metrics/job/report/region/eu", "# TYPE pages gauge\npages 3\n")
    (job,) = (await get(client, "/jobs", kind="pushgateway"))["jobs"]
    assert job["job"] == "report"
    assert job["labels"] == {"region": "eu"}
    assert job["status"] == "succeeded"
    assert job["last_success_at"] is not None
    assert job["pushgateway"]["series"] == 1
    assert job["pushgateway"]["grouping_key"] == {"job": "report", "region": "eu"}
    response = await client.delete("/jobs/report")
    assert response.status == 200
    assert ("pages", labels(job="report", region="eu", instance="")) not in await scrape(client)


async def test_a_job_with_runs_and_a_group_is_one_batch_job_with_its_group_beside(
    start: Start, clock: Clock
) -> None:
    """A cron job that reports its runs to /push and pushes its figures with
    push_to_gateway under the same name: its runs decide its status and times, the group
    is shown beside them; a push never passes for a success."""
    client = await start()
    await push(client, {"job": "etl", "event": "fail", "duration_seconds": 30, "exit_code": 2})
    failed_at = clock.now
    clock.advance(60)
    await put(client, "/metrics/job/etl", "# TYPE rows gauge\nrows 7\n")
    for restarted in (False, True):
        if restarted:
            await client.close()
            client = await start()
        (job,) = (await get(client, "/jobs", q="etl"))["jobs"]
        assert (job["kind"], job["status"]) == ("batch", "failed"), restarted
        assert job["last_success_at"] is None, restarted
        assert job["last_failure_at"] is not None
        assert job["pushgateway"]["series"] == 1
        series = await scrape(client)
        assert series[("rows", labels(job="etl", instance=""))] == 7
        key = labels(job="etl")
        assert series[("batchgate_job_last_failure_timestamp_seconds", key)] == failed_at
        assert ("batchgate_job_last_success_timestamp_seconds", key) not in series

    response = await client.delete("/jobs/etl")
    assert response.status == 200
    assert ("rows", labels(job="etl", instance="")) not in await scrape(client)
    assert (await get(client, "/jobs", q="etl"))["jobs"] == []


async def test_a_group_whose_job_starts_reporting_runs_becomes_a_batch_job(
    start: Start, clock: Clock
) -> None:
    client = await start()
    await put(client, "/metrics/job/backup", "# TYPE bytes gauge\nbytes 9\n")
    clock.advance(60)
    await push(client, {"job": "backup", "event": "start", "run_id": "b1"})
    for restarted in (False, True):
        if restarted:
            await client.close()
            client = await start()
        (job,) = (await get(client, "/jobs", q="backup"))["jobs"]
        assert (job["kind"], job["status"]) == ("batch", "running"), restarted
        assert job["last_success_at"] is None, "the push before the run was no success"
        assert job["pushgateway"]["grouping_key"] == {"job": "backup"}
        series = await scrape(client)
        assert series[("batchgate_job_running", labels(job="backup"))] == 1, restarted
    # Deleting the group leaves the job and its runs.
    response = await client.delete("/metrics/job/backup")
    assert response.status == 202
    (job,) = (await get(client, "/jobs", q="backup"))["jobs"]
    assert (job["status"], "pushgateway" in job) == ("running", False)


async def test_the_servers_downtime_does_not_age_a_group(start: Start, clock: Clock) -> None:
    """Its clients went on pushing while the server was down for two hours: the group
    expires an hour of the server's uptime after the last push it heard, not at the start."""
    pushgateway = PushgatewaySettings(expire_after=3600)
    client = await start(pushgateway=pushgateway)
    await put(client, "/metrics/job/hourly_sync", "# TYPE x gauge\nx 1\n")
    await client.close()

    clock.advance(7200)
    client = await start(pushgateway=pushgateway)
    client.app[INGEST].sweep()
    assert ("x", labels(job="hourly_sync", instance="")) in await scrape(client)
    clock.advance(3601)
    client.app[INGEST].sweep()
    assert ("x", labels(job="hourly_sync", instance="")) not in await scrape(client)


async def test_stale_groups_expire_and_are_recorded(start: Start, clock: Clock) -> None:
    from batchgate.collector.pushgateway import ExpiryRule

    pushgateway = PushgatewaySettings(expire_after=3600, expire=(ExpiryRule("hourly_*", 600),))
    client = await start(pushgateway=pushgateway)
    await put(client, "/metrics/job/hourly_sync", "# TYPE x gauge\nx 1\n")
    await put(client, "/metrics/job/daily_sync", "# TYPE y gauge\ny 1\n")
    clock.advance(601)
    client.app[INGEST].sweep()
    series = await scrape(client)
    assert ("x", labels(job="hourly_sync", instance="")) not in series
    assert ("y", labels(job="daily_sync", instance="")) in series
    clock.advance(3000)
    client.app[INGEST].sweep()
    assert ("y", labels(job="daily_sync", instance="")) not in await scrape(client)
    assert (await get(client, "/jobs", kind="pushgateway"))["jobs"] == []

    await client.app[WRITER].durable()  # the sweep staged them, and does not wait
    events = (await get(client, "/groups/history"))["events"]
    assert [(e["event"], e["grouping_key"]) for e in events] == [
        ("expired", {"job": "daily_sync"}),
        ("expired", {"job": "hourly_sync"}),
    ]
    await client.close()
    client = await start(pushgateway=pushgateway)
    assert (await get(client, "/jobs", kind="pushgateway"))["jobs"] == [], "gone from the store"


async def test_wipe_removes_every_group(client: Client) -> None:
    for job in ("a", "b"):
        await put(client, f"/metrics/job/{job}", "# TYPE g gauge\ng 1\n")
    response = await client.put("/api/v1/admin/wipe")
    assert response.status == 202
    assert not [key for key in await scrape(client) if key[0] == "g"]
    events = (await get(client, "/groups/history"))["events"]
    assert sorted(e["grouping_key"]["job"] for e in events if e["event"] == "wiped") == ["a", "b"]


async def test_every_route_can_live_under_a_prefix(start: Start) -> None:
    client = await start(route_prefix="/pgw")
    await put(client, "/pgw/metrics/job/prefixed", "# TYPE g gauge\ng 5\n")
    response = await client.get("/pgw/metrics")
    assert 'g{instance="",job="prefixed"} 5' in await response.text()
    assert (await client.get("/pgw/jobs")).status == 200
    assert (await client.get("/metrics")).status == 404


async def test_its_own_metric_names_cannot_be_pushed(client: Client) -> None:
    refused = await put(client, "/metrics/job/a", "batchgate_jobs 99\n", 400)
    assert "batchgate_jobs" in refused
