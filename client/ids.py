"""The ids the SDK makes for runs and events: UUIDv7 (RFC 9562), as 32 hex digits.

A UUIDv7 begins with the Unix time in milliseconds and ends with random bits, so the ids
made later sort after those made earlier. A store keeps its runs and the events it has
seen in B-trees keyed by these ids: time-ordered keys are added at the end of those trees,
where random ones (uuid4) land on a page anywhere in them, and a large history has many
more pages than any cache (docs/benchmarks.md, "run ids in time order").
"""

from __future__ import annotations

import os
import time

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM = ((1 << 12) - 1) << 64 | (1 << 62) - 1
"""The bits left random: `rand_a` (12 bits after the version) and `rand_b` (the 62 after
the variant)."""


def time_ordered_id(at: float | None = None) -> str:
    """A new UUIDv7 for time `at` (seconds since the epoch; now by default), as 32 hex
    digits like `uuid.uuid4().hex`."""
    milliseconds = time.time_ns() // 1_000_000 if at is None else int(at * 1000)
    random = int.from_bytes(os.urandom(10), "big") & _RANDOM
    return f"{(milliseconds & (1 << 48) - 1) << 80 | _VERSION | _VARIANT | random:032x}"
