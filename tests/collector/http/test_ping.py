"""`/ping/{job}`: a job's life in the URL, for a crontab with only curl: a start, then a
success, a failure or an exit status; labels in the query, a POSTed body as the message."""

from __future__ import annotations

from tests.helpers import Client, Clock, checked, get


async def _ping(client: Client, path: str, body: str | None = None, expect: int = 200) -> str:
    if body is None:
        response = await client.get(path)
    else:
        response = await client.post(path, data=body.encode())
    text = await response.text()
    assert response.status == expect, text
    return response.headers.get("Batchgate-Run-Id", "") if expect == 200 else text


async def test_a_start_then_an_exit_status_is_one_run_with_its_duration(
    client: Client, clock: Clock
) -> None:
    started = await _ping(client, "/ping/backup/start?host=db1")
    clock.advance(42)
    ended = await _ping(client, "/ping/backup/0?host=db1")
    assert ended == started
    run = await get(client, f"/runs/{started}")
    assert (run["job"], run["labels"], run["status"]) == ("backup", {"host": "db1"}, "succeeded")
    assert (run["duration_seconds"], run["exit_code"]) == (42, 0)


async def test_a_failing_exit_status_fails_the_run_with_the_posted_output(
    client: Client, clock: Clock
) -> None:
    await _ping(client, "/ping/backup/start")
    clock.advance(5)
    run_id = await _ping(client, "/ping/backup/3", body="rsync: No space left on device\n")
    run = await get(client, f"/runs/{run_id}")
    assert (run["status"], run["exit_code"]) == ("failed", 3)
    assert run["message"] == "rsync: No space left on device"
    response = await client.get("/ping/backup/start")
    assert (response.status, await response.text()) == (200, "OK\n")


async def test_a_bare_ping_is_a_success_and_rid_keeps_overlapping_runs_apart(
    client: Client, clock: Clock
) -> None:
    await _ping(client, "/ping/cleanup")
    (job,) = (await get(client, "/jobs", q="cleanup"))["jobs"]
    assert (job["status"], job["runs"]) == ("succeeded", {"succeeded": 1})

    await _ping(client, "/ping/sync/start?rid=a")
    await _ping(client, "/ping/sync/start?rid=b")
    clock.advance(10)
    await _ping(client, "/ping/sync/fail?rid=a")
    assert (await get(client, "/runs/a"))["status"] == "failed"
    assert (await get(client, "/runs/b"))["status"] == "running"
    response = await client.head("/ping/sync/success?run_id=b")
    assert response.status == 200
    assert (await get(client, "/runs/b"))["status"] == "succeeded"


async def test_a_bad_ping_is_refused_naming_what_is_wrong_and_applies_nothing(
    client: Client,
) -> None:
    for path, field in [
        ("/ping/backup/done", "event"),
        ("/ping/backup/256", "event"),
        ("/ping/backup/%C2%B9", "event"),  # "¹": a digit to str.isdigit(), not to int()
        ("/ping/backup/%D9%A3", "event"),  # "٣", an Arabic-Indic three
        ("/ping/backup?host=a&host=b", "labels.host"),
        ("/ping/backup?__secret=1", "labels.__secret"),
        ("/ping/back%0Aup", "job"),
    ]:
        refused = await checked(await client.get(path), 400)
        assert [d["field"] for d in refused["details"]] == [field], path
    assert (await get(client, "/jobs"))["jobs"] == []
