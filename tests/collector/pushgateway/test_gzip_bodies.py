"""Gzip bodies: decoded, with Go's tolerance (and intolerance) of broken streams."""

from __future__ import annotations

import gzip

import pytest

from batchgate.collector.pushgateway import GroupRegistry, PushTooLargeError
from batchgate.collector.pushgateway.gzip_body import gunzip

TEXT = b"foo 1\nbar 2\n"


def stored(registry: GroupRegistry) -> list[str]:
    return [
        line
        for line in registry.render_text().splitlines()
        if line.startswith(("foo", "bar", "baz"))
    ]


def test_a_gzip_body_is_stored_like_the_plain_one(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/z", gzip.compress(TEXT), None, True, 1.0)
    assert stored(registry) == ['bar{instance="",job="z"} 2', 'foo{instance="",job="z"} 1']


def test_a_broken_end_after_a_complete_line_keeps_the_lines(registry: GroupRegistry) -> None:
    body = gzip.compress(TEXT)
    registry.push("PUT", "job/z", body[:-8] + b"\0\0\0\0" + body[-4:], None, True, 1.0)
    assert stored(registry) == ['bar{instance="",job="z"} 2', 'foo{instance="",job="z"} 1']


def test_members_are_read_one_after_the_other(registry: GroupRegistry) -> None:
    body = gzip.compress(b"foo 1\n") + gzip.compress(b"baz 3\n")
    registry.push("PUT", "job/z", body, None, True, 1.0)
    assert stored(registry) == ['baz{instance="",job="z"} 3', 'foo{instance="",job="z"} 1']


def test_it_gives_the_data_before_an_error_and_the_error() -> None:
    body = gzip.compress(TEXT)
    assert gunzip(body[:-8] + b"\0\0\0\0" + body[-4:], 1000) == (TEXT, "gzip: invalid checksum")
    assert gunzip(body + b"\x1f", 1000) == (TEXT, "unexpected EOF")


def test_a_corrupt_stream_is_an_error_after_what_it_decoded() -> None:
    original = b"x" * 10 + bytes(range(256)) * 40
    body = bytearray(gzip.compress(original))
    body[40:44] = b"\xff\xff\xff\xff"
    data, error = gunzip(bytes(body), 1 << 20)
    assert error is not None
    assert data[:10] == original[:10]


def test_a_gzip_bomb_is_too_large_not_out_of_memory() -> None:
    registry = GroupRegistry(max_body_bytes=1 << 20)
    bomb = gzip.compress(b"#" * (8 << 20))
    with pytest.raises(PushTooLargeError):
        registry.push("PUT", "job/z", bomb, None, True, 1.0)
    assert len(registry) == 0
