"""Gzip request bodies, decoded the way Go's compress/gzip hands them to the Pushgateway.

Go streams the body through gzip.Reader, so a broken stream surfaces as a read error at
some point of the decompressed data, and what the Pushgateway answers depends on where:
the text parser of the Pushgateway 1.5 ignores any read error at the start of a line, the
protobuf reader reports it. `gunzip` therefore returns the data that decoded cleanly plus the
error Go would raise after it, for the parsers to place. Multi-member streams are read
through, as Go does. The decompressed size is bounded (a gzip bomb is a 413, not an OOM).
"""

from __future__ import annotations

import zlib
from typing import Final

from batchgate.collector.pushgateway.errors import BodyParseError, PushTooLargeError

_FLAG_HEADER_CRC: Final = 0x02
_FLAG_EXTRA: Final = 0x04
_FLAG_NAME: Final = 0x08
_FLAG_COMMENT: Final = 0x10
_UNEXPECTED_EOF: Final = "unexpected EOF"
_INVALID_HEADER: Final = "gzip: invalid header"


class _StreamError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def gunzip(body: bytes, max_size: int) -> tuple[bytes, str | None]:
    """(decompressed data, Go's error after it or None). PushTooLargeError beyond `max_size`.

    An empty body or a broken first header fails before any data, as gzip.NewReader does:
    BodyParseError with its message ("EOF", "unexpected EOF", "gzip: invalid header").
    """
    if not body:
        raise BodyParseError("EOF")
    try:
        position = _skip_header(body, 0)
    except _StreamError as error:
        raise BodyParseError(error.message) from None
    out = bytearray()
    try:
        while True:
            position = _inflate_member(body, position, out, max_size)
            if position >= len(body):
                return bytes(out), None
            position = _skip_header(body, position)
    except _StreamError as error:
        return bytes(out), error.message


def _skip_header(body: bytes, position: int) -> int:
    if len(body) - position < 10:
        raise _StreamError(_UNEXPECTED_EOF)
    if body[position] != 0x1F or body[position + 1] != 0x8B or body[position + 2] != 8:
        raise _StreamError(_INVALID_HEADER)
    flags = body[position + 3]
    start = position
    position += 10
    if flags & _FLAG_EXTRA:
        if len(body) - position < 2:
            raise _StreamError(_UNEXPECTED_EOF)
        extra = body[position] | body[position + 1] << 8
        position += 2 + extra
    for flag in (_FLAG_NAME, _FLAG_COMMENT):
        if flags & flag:
            end = body.find(b"\x00", position)
            if end < 0:
                raise _StreamError(_UNEXPECTED_EOF)
            position = end + 1
    if flags & _FLAG_HEADER_CRC:
        if len(body) - position < 2:
            raise _StreamError(_UNEXPECTED_EOF)
        expected = body[position] | body[position + 1] << 8
        if zlib.crc32(body[start:position]) & 0xFFFF != expected:
            raise _StreamError(_INVALID_HEADER)
        position += 2
    if position > len(body):
        raise _StreamError(_UNEXPECTED_EOF)
    return position


def _inflate_member(body: bytes, position: int, out: bytearray, max_size: int) -> int:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    member_start = len(out)
    data = body[position:]
    try:
        chunk = inflater.decompress(data, max_size - len(out) + 1)
    except zlib.error:
        _inflate_until_error(data, out, max_size)
        raise AssertionError("unreachable") from None
    out += chunk
    if len(out) > max_size or inflater.unconsumed_tail:
        raise PushTooLargeError(f"decompressed body exceeds {max_size} bytes")
    if not inflater.eof:
        raise _StreamError(_UNEXPECTED_EOF)
    trailer = inflater.unused_data
    if len(trailer) < 8:
        raise _StreamError(_UNEXPECTED_EOF)
    crc = int.from_bytes(trailer[0:4], "little")
    size = int.from_bytes(trailer[4:8], "little")
    member = bytes(out[member_start:])
    if zlib.crc32(member) != crc or len(member) & 0xFFFFFFFF != size:
        raise _StreamError("gzip: invalid checksum")
    return len(body) - len(trailer) + 8


def _inflate_until_error(data: bytes, out: bytearray, max_size: int) -> None:
    """Replay a corrupt member byte by byte: keep what decoded, fail where Go's flate would."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    for offset in range(len(data)):
        try:
            out += inflater.decompress(data[offset : offset + 1])
        except zlib.error:
            # Go reports the offset of the bad input it had read; zlib's point may differ.
            raise _StreamError(f"flate: corrupt input before offset {offset}") from None
        if len(out) > max_size:
            raise PushTooLargeError(f"decompressed body exceeds {max_size} bytes")
    raise _StreamError(_UNEXPECTED_EOF)
