"""Real batchgate down when the job starts, up later: every event applied once, at its own time."""

import json
import time
from datetime import datetime

from batchgate import Job
from tests.client.conftest import Collector, fast_connection, free_port, wait_until


def at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_it_applies_every_event_once_with_its_original_time(tmp_path, isolated_client):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    data.mkdir()
    job = Job("etl", connection=fast_connection(url), progress_interval=0.05, heartbeat=None)
    job.start()
    started = time.time()
    job.progress(done=1, total=4)
    [spool] = wait_until(lambda: list(isolated_client.glob("*/*.jsonl")))
    wait_until(lambda: '"done":1' in spool.read_text())
    job.progress(done=2, total=4)
    wait_until(lambda: '"done":2' in spool.read_text())
    spooled = [json.loads(line) for line in spool.read_text().splitlines()]

    collector = Collector(data, port)
    came_up = time.time()
    collector.start()
    try:
        job.progress(done=4, total=4)
        job.success()
        run = collector.wait_for_run(
            job.run_id, lambda r: r["timeline"] and r["timeline"][-1]["event"] == "success"
        )
        # Replay what was spooled: the collector has applied every one of these event_ids
        # already (as duplicates they change nothing), so each arrived, and arrived once.
        answer = post(url, spooled)
        assert answer["duplicates"] == len(spooled)
    finally:
        collector.stop()
    assert abs(at(run["started_at"]) - started) < 0.5  # when it started, not when delivered
    assert at(run["started_at"]) < came_up
    points = [(p["event"], p["progress"] and p["progress"]["done"]) for p in run["timeline"]]
    assert points[0] == ("start", None)
    # Spooled progress came in with its own time: sampled on the timeline before the end.
    assert any(event == "progress" for event, _ in points[1:-1])
    assert points[-1] == ("success", 4)
    assert sorted(at(p["at"]) for p in run["timeline"]) == [at(p["at"]) for p in run["timeline"]]


def post(url, events):
    import urllib.request

    request = urllib.request.Request(
        f"{url}/push",
        data=json.dumps(events).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())
