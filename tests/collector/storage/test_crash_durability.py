"""A push answered 200 survives whatever happens next to the server: `kill -9`, or a
SIGTERM, which also stops it cleanly (in-flight requests answered, writes flushed)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.helpers import ServerProcess, SustainedPushes


def test_it_loses_no_acknowledged_push_when_killed(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process()
    with SustainedPushes(server.url) as pushes:
        pushes.wait_for(300)
        server.kill()
    restarted = server_process(data_dir=server.data_dir, port=server.port)
    missing = pushes.missing_from(restarted.url)
    assert missing == [], f"{len(missing)} of {len(pushes.acknowledged)} acknowledged runs lost"


def test_sigterm_drains_and_exits_cleanly_under_load(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process()
    with SustainedPushes(server.url) as pushes:
        pushes.wait_for(300)
        asked = time.monotonic()
        code = server.stop()
        took = time.monotonic() - asked
    assert code == 0
    assert took < 15, f"shutdown took {took:.1f}s"
    restarted = server_process(data_dir=server.data_dir, port=server.port)
    missing = pushes.missing_from(restarted.url)
    assert missing == [], f"{len(missing)} of {len(pushes.acknowledged)} acknowledged runs lost"
