"""A job declares its own schedule through the SDK and `batchgate run`, against a real
batchgate: GET /jobs/{job} shows what it declared; what the collector would refuse is
refused in the client at once."""

from __future__ import annotations

from typing import Any

import pytest

from batchgate import Job, current_job
from tests.client.conftest import Collector, fast_connection, get_json
from tests.client.runner import batchgate_run


def _declared(collector: Collector, job: str) -> Any:
    (shown,) = get_json(f"{collector.url}/jobs/{job}")["label_sets"]
    return shown["schedule"]


def test_the_sdk_sends_the_declared_schedule_with_the_start(collector: Collector) -> None:
    job = Job(
        "backup",
        connection=fast_connection(collector.url),
        schedule="0 2 * * *",
        timezone="Europe/Berlin",
        grace="30m",
        max_runtime="2h",
    )
    with job:
        pass
    collector.wait_for_run(job.run_id, lambda run: run["status"] == "succeeded")
    declared = _declared(collector, "backup")
    assert (declared["cron"], declared["timezone"]) == ("0 2 * * *", "Europe/Berlin")
    assert (declared["grace_seconds"], declared["max_runtime_seconds"]) == (1800.0, 7200.0)


def test_a_decorated_function_declares_it_on_every_call(collector: Collector) -> None:
    @Job("report", connection=fast_connection(collector.url), max_runtime=600)
    def report() -> str:
        job = current_job()
        assert job is not None
        return job.run_id

    run_id = report()
    collector.wait_for_run(run_id, lambda run: run["status"] == "succeeded")
    assert _declared(collector, "report")["max_runtime_seconds"] == 600.0


def test_batchgate_run_sends_the_declared_schedule(
    collector: Collector, isolated_client: Any, tmp_path: Any
) -> None:
    result, _ = batchgate_run(
        "--job", "nightly", "--run-id", "nightly-1", "--schedule", "30 3 * * 1-5",
        "--timezone", "America/New_York", "--grace", "10m", "--max-runtime", "1h30m",
        "--finish-within", "2h",
        "--", "true",
        url=collector.url, spool=isolated_client, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0
    collector.wait_for_run("nightly-1", lambda run: run["status"] == "succeeded")
    declared = _declared(collector, "nightly")
    assert (declared["cron"], declared["timezone"]) == ("30 3 * * 1-5", "America/New_York")
    assert (declared["grace_seconds"], declared["max_runtime_seconds"]) == (600.0, 5400.0)
    assert declared["finish_within_seconds"] == 7200.0


@pytest.mark.parametrize(
    ("declared", "reason"),
    [
        ({"schedule": "0 2 * *"}, "must have 5 fields"),
        ({"schedule": "61 * * * *"}, "minute 61 is not in 0-59"),
        ({"schedule": "0 2 * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"schedule": "0 2 * * *", "grace": "soon"}, "grace must be a duration"),
        ({"max_runtime": 0}, "max_runtime must be more than 0"),
        ({"grace": "5m"}, "go with a schedule"),
        ({"finish_within": "4h"}, "go with a schedule"),
        ({"schedule": "0 2 * * *", "finish_within": "-4h"}, "finish_within must be"),
    ],
)
def test_a_bad_declaration_raises_at_once(declared: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Job("backup", **declared)
