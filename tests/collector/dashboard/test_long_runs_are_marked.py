"""A run far past its job's usual duration is marked on the jobs list and the overview with
no rule configured: running more than twice the p95 of the job's recent successful runs
(at least five of them), as a `duration` rule with `above_p95_factor: 2` would judge it."""

from __future__ import annotations

from tests.collector.dashboard.page import Element, page
from tests.helpers import Client, Clock, push


async def _history(client: Client, clock: Clock, job: str, runs: int, took: float) -> None:
    """`runs` successful runs of `job`, an hour apart, each of about `took` seconds."""
    await push(client, [
        {"job": job, "event": "success", "run_id": f"{job}-{i}", "duration_seconds": took - i,
         "timestamp": clock.now - (runs - i) * 3600}
        for i in range(runs)
    ])  # fmt: skip


async def _start(client: Client, clock: Clock, job: str, ago: float) -> None:
    """A run of `job` that started `ago` seconds ago and reports progress now."""
    run = {"job": job, "run_id": f"{job}-now"}
    await push(client, {**run, "event": "start", "timestamp": clock.now - ago,
                        "progress": {"done": 1, "total": 1000}})  # fmt: skip
    await push(client, {**run, "event": "progress", "progress": {"done": 2, "total": 1000}})


def _row(document: Element, job: str) -> Element:
    (row,) = [row for row in document.all("tr", data_job_key=True) if row.all("a")[0].text == job]
    return row


def _mark(row: Element) -> str | None:
    marks = row.all("div", "long-run")
    return marks[0].text if marks else None


async def test_a_run_past_twice_its_usual_duration_is_marked(client: Client, clock: Clock) -> None:
    await _history(client, clock, "compute_pi", 8, took=41)
    await _start(client, clock, "compute_pi", ago=31 * 60)
    await _history(client, clock, "etl", 8, took=300)
    await _start(client, clock, "etl", ago=500)  # 1.7 times its usual: not yet

    jobs = await page(client, "/ui/jobs")
    pi = _row(jobs, "compute_pi")
    assert "long" in pi.classes
    assert _mark(pi) == "long running 31 min, usually ≤ 41 s"
    assert _mark(_row(jobs, "etl")) is None

    overview = await page(client, "/")
    running = overview.one("section", id="overview-running")
    assert "1 long past its usual duration" in running.one("h2").text
    first, second = running.all("tr", data_job_key=True)
    assert (first.all("a")[0].text, _mark(first)) == (
        "compute_pi",
        "long running 31 min, usually ≤ 41 s",
    )  # the long run first, though it started before the other
    assert _mark(second) is None

    run = await page(client, "/ui/runs/compute_pi-now")
    assert run.one("section", id="run-state").one("div", "long-run")


async def test_a_job_with_few_runs_has_no_usual_duration_yet(client: Client, clock: Clock) -> None:
    await _history(client, clock, "new_job", 4, took=10)
    await _start(client, clock, "new_job", ago=3600)
    assert _mark(_row(await page(client, "/ui/jobs"), "new_job")) is None
