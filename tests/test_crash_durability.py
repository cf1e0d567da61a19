"""`kill -9` of the server loses no push that was answered 200 (a real subprocess)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

from tests.helpers import ServerProcess


def _post(url: str, body: object) -> int:
    request = urllib.request.Request(
        f"{url}/push", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except (urllib.error.URLError, OSError):
        return 0


def _get(url: str, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}{path}", timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_it_loses_no_acknowledged_push_when_killed(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process()
    acknowledged: list[str] = []
    stop = threading.Event()

    def pusher(worker: int) -> None:
        number = 0
        while not stop.is_set():
            run_id = f"w{worker}-{number}"
            events = [
                {"job": f"crash_{worker}", "event": "start", "run_id": run_id},
                {"job": f"crash_{worker}", "event": "success", "run_id": run_id},
            ]
            if _post(server.url, events) == 200:
                acknowledged.append(run_id)
            number += 1

    threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 300:
        threading.Event().wait(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join()

    restarted = server_process(data_dir=server.data_dir, port=server.port)
    missing = []
    for run_id in acknowledged:
        try:
            run = _get(restarted.url, f"/runs/{run_id}")
        except urllib.error.HTTPError:
            missing.append(run_id)
            continue
        assert run["status"] == "succeeded", run
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged runs lost"
