"""How the JSON API writes times: checked against the standard library's own calendar."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from batchgate.collector.core.api_json import rfc3339

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHAPE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@given(st.floats(min_value=-62135596800.0, max_value=253402300799.0))
def test_rfc3339_is_the_time_truncated_to_the_millisecond(timestamp: float) -> None:
    text = rfc3339(timestamp)
    assert text is not None
    assert SHAPE.fullmatch(text), text
    shown = (datetime.fromisoformat(text) - EPOCH).total_seconds()
    assert timestamp - 0.001 - 1e-6 <= shown <= timestamp + 1e-6


def test_rfc3339_across_a_minute_and_a_year_boundary() -> None:
    assert rfc3339(1704067199.999) == "2023-12-31T23:59:59.999Z"
    assert rfc3339(1704067200.0) == "2024-01-01T00:00:00.000Z"
    assert rfc3339(-0.5) == "1969-12-31T23:59:59.500Z"
    assert rfc3339(-1e-20) == "1969-12-31T23:59:59.999Z"
    assert rfc3339(None) is None
