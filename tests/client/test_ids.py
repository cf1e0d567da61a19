"""The ids the SDK makes for runs and events: UUIDv7, 32 hex digits, later ones sorting
after earlier ones, and none alike."""

from __future__ import annotations

import time
import uuid

from batchgate.client import Job
from batchgate.client.ids import time_ordered_id


def test_an_id_is_a_uuid7_in_32_hex_digits() -> None:
    made = time_ordered_id()
    assert len(made) == 32
    assert made == made.lower()
    parsed = uuid.UUID(made)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.hex == made


def test_it_begins_with_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = time_ordered_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(made[:12], 16) <= after
    assert int(time_ordered_id(1_700_000_000.123)[:12], 16) == 1_700_000_000_123


def test_ids_made_later_sort_after_and_none_are_alike() -> None:
    ids = [time_ordered_id(1_700_000_000 + n / 1000) for n in range(1000)]
    assert ids == sorted(ids)
    same_moment = {time_ordered_id(1_700_000_000.0) for _ in range(10_000)}
    assert len(same_moment) == 10_000


def test_a_job_names_its_runs_with_them() -> None:
    first = Job("ids_check", url="http://127.0.0.1:9")
    time.sleep(0.002)
    second = Job("ids_check", url="http://127.0.0.1:9")
    assert uuid.UUID(first.run_id).version == 7
    assert first.run_id < second.run_id
