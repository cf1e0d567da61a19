"""The grouping key is read from the URL exactly as the Pushgateway reads it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchgate.collector.pushgateway import (
    GroupingKeyError,
    encode_grouping_path,
    parse_grouping_key,
)


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("job/backup", {"job": "backup"}),
        ("job/backup/", {"job": "backup"}),
        ("job/backup/instance/db1", {"job": "backup", "instance": "db1"}),
        ("job/backup/instance@base64/ZGIx", {"job": "backup", "instance": "db1"}),
        ("job/backup/instance@base64/ZGIx==", {"job": "backup", "instance": "db1"}),
        ("job/backup/path@base64/L3Zhci90bXA", {"job": "backup", "path": "/var/tmp"}),
        ("job/backup/empty@base64/=", {"job": "backup", "empty": ""}),
        ("job/backup/empty/", {"job": "backup", "empty": ""}),
        ("job@base64/YS9i", {"job": "a/b"}),
        ("job/a%20b/x/caf%C3%A9", {"job": "a b", "x": "café"}),
        ("job/a+b", {"job": "a+b"}),  # Go does not read '+' as a space in a path.
        ("job/a/x/1/x/2", {"job": "a", "x": "2"}),  # The last one wins.
        ("job/a/job/other", {"job": "a"}),  # The path's job wins over a `job` label.
    ],
)
def test_it_reads_job_and_labels(path: str, key: dict[str, str]) -> None:
    assert parse_grouping_key(path) == tuple(sorted(key.items()))


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("jobs/a", 404, "404 page not found"),
        ("job/a/x/%zz", 400, "400 Bad Request"),
        ("job/a/b", 400, 'odd number of components in label string "/b"'),
        ("job/a/__b/c", 400, 'improper label name "__b"'),
        (
            "job@base64/YWJjZ",
            400,
            'invalid base64 encoding in job name "abc": illegal base64 data at input byte 4',
        ),
        (
            "job@base64/!!",
            400,
            'invalid base64 encoding in job name "": illegal base64 data at input byte 0',
        ),
        ("job@base64/", 400, "job name is required"),
        ("job/", 400, "job name is required"),
    ],
)
def test_it_refuses_what_the_pushgateway_refuses(path: str, status: int, message: str) -> None:
    with pytest.raises(GroupingKeyError) as refused:
        parse_grouping_key(path)
    assert (refused.value.status, refused.value.message) == (status, message)


def test_label_errors_come_before_a_missing_job() -> None:
    with pytest.raises(GroupingKeyError, match="odd number"):
        parse_grouping_key("job@base64/=/x")


def test_it_keeps_bytes_that_are_not_utf8_for_the_consistency_check() -> None:
    assert parse_grouping_key("job/a/x@base64/_w") == (("job", "a"), ("x", "\udcff"))


label_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


@given(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12),
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), label_values, max_size=3
    ),
)
def test_a_key_survives_its_own_url(job: str, labels: dict[str, str]) -> None:
    key = tuple(sorted({**labels, "job": job}.items()))
    assert parse_grouping_key(encode_grouping_path(key)) == key
