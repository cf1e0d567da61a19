"""A collector that takes seconds to answer costs the job nothing."""

import time

from batchgate import Job
from tests.client.conftest import blackhole, fast_connection, wait_until


def test_it_never_waits_for_a_slow_collector(receiver):
    receiver.delay = 1.0
    started = time.monotonic()
    with Job("etl", connection=fast_connection(receiver.url, timeout=10)) as job:
        for done in range(10_000):
            job.progress(done=done)
    assert time.monotonic() - started < 0.5
    wait_until(lambda: receiver.of("success"), timeout=15)


def test_it_never_waits_for_a_collector_that_never_answers():
    with blackhole() as url:
        started = time.monotonic()
        for _ in range(3):
            with Job("etl", connection=fast_connection(url, timeout=30)) as job:
                job.progress(done=1)
        assert time.monotonic() - started < 0.5
