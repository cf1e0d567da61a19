"""What makes a request a plain push, which the front door answers itself: its head read
from the bytes of a connection, and the bytes of an answer. No I/O here.

A plain push is `POST /push` with a JSON body, the Pushgateway's `PUT`/`POST` of a group,
or an OTLP export (`POST /v1/metrics`, protobuf or JSON, plain or gzip), framed by a
`Content-Length`, over HTTP/1.1, with a head that RFC 9110 allows and aiohttp's strict
parser would read the same way. Anything else is `NotPlain`: aiohttp's to judge, so the
request-smuggling cases it refuses stay refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import NamedTuple

from aiohttp.http import SERVER_SOFTWARE
from yarl import URL

from batchgate.collector.http.malformed_heads import HeadRefused, shown
from batchgate.collector.otlp.decode import media_type

MAX_HEAD = 8190
"""Bytes of request line and header fields of a plain push (aiohttp's own limit for a
line); a longer head is aiohttp's."""
MAX_REQUEST_LINE = 16_384
"""Bytes of a request's target that aiohttp reads (its `max_line_size`; its default is
8,190): a URL naming a job by the longest name allowed (1,024 characters of up to 4 bytes
of UTF-8, percent-encoded: 12,288 bytes) fits."""
MAX_FIELD = 8190
"""Bytes of a header field's name, and of its value, that aiohttp reads (its
`max_field_size`, left at its default)."""
MAX_HEAD_HELD = 65_536
"""Bytes of a head the front door holds until it is whole; a longer head is refused (431)."""

PUSH = "push"
PUSHGATEWAY = "pushgateway_push"
OTLP = "otlp_metrics"
"""The routes the front door answers, by their names in the route table."""

# Header fields as RFC 9110 has them: a token, a colon, visible characters, spaces, tabs
# and obs-text; no obsolete line folding, no bare CR or LF, no NUL.
_FIELDS = re.compile(rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*")
# Fields that change how a body is read or what the connection becomes: aiohttp's.
_HANDED_OVER = frozenset({b"transfer-encoding", b"content-encoding", b"expect", b"upgrade"})
_HANDED_OVER_OTLP = _HANDED_OVER - {b"content-encoding"}
_OTLP_ENCODINGS = frozenset({b"gzip", b"identity"})
# Bytes in a Pushgateway path that aiohttp's router might read differently (dot segments,
# empty segments, a query or fragment): such a path goes to aiohttp.
_UNPLAIN_PATH = re.compile(rb"/\.|//|%2[eE]|[?#]|[^\x21-\x7e]")


class NotPlain(Exception):
    """The request is not a plain push: aiohttp's, from its first byte on."""


class HeadTooLong(HeadRefused):
    """A head that aiohttp would refuse for its length: the front door answers it in
    batchgate's JSON shape (aiohttp's own answer is plain text quoting the bytes), and
    closes the connection."""

    def __init__(self, status: int, message: str, field: str, value: bytes | bytearray) -> None:
        super().__init__(status, message, field, value, message)


class Head(NamedTuple):
    route: str
    method: bytes
    target: bytes
    fields: dict[bytes, bytes]
    """Header fields by lower-case name."""
    close: bool
    start: int
    """Where the body starts in the buffer, and where it ends."""
    end: int


class Routes:
    """The request lines of the routes answered as plain pushes, under a route prefix."""

    def __init__(self, prefix: str) -> None:
        encoded = prefix.encode()
        self.push_target = encoded + b"/push"
        self.otlp_target = encoded + b"/v1/metrics"
        self.group_prefix = encoded + b"/metrics/job"  # job/ or job@base64/
        self.group_path_start = len(encoded) + len(b"/metrics/")

    def route(self, method: bytes, target: bytes) -> str | None:
        """The route of a request line, or None for aiohttp's."""
        if target == self.push_target:
            return PUSH if method == b"POST" else None
        if target == self.otlp_target:
            return OTLP if method == b"POST" else None
        if (
            method in (b"PUT", b"POST")
            and target.startswith(self.group_prefix)
            and _UNPLAIN_PATH.search(target) is None
        ):
            return PUSHGATEWAY
        return None

    def is_pushgateways(self, buffer: bytes | bytearray) -> bool:
        """Whether the request at the buffer's start is to a Pushgateway group's route
        (whose refusals are plain text, as the Pushgateway's), whatever its method."""
        parts = bytes(buffer[: len(self.group_prefix) + 64]).split(b" ", 2)
        return len(parts) > 1 and parts[1].startswith(self.group_prefix)

    def group_path(self, head: Head) -> str:
        """A Pushgateway push's grouping key path (`job/...` or `job@base64/...`)."""
        return head.target[self.group_path_start :].decode()


def read_head(
    buffer: bytearray, route: Callable[[bytes, bytes], str | None], max_body: int
) -> Head | None:
    """The head of the buffer's first request once it is whole (None before); NotPlain
    unless it is a plain push (see the module's text)."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD_HELD + 4)
    if end < 0:
        if buffer.count(b"\n") != buffer.count(b"\r\n"):
            raise NotPlain  # lines ended by a bare LF: it would never end
        refuse_long_lines(buffer)
        if len(buffer) > MAX_HEAD_HELD:
            raise HeadTooLong(
                431, f"the request's head is longer than {MAX_HEAD_HELD} bytes", "head", buffer
            )
        return None
    if end > MAX_HEAD:
        refuse_long_lines(bytes(buffer[:end]))
        raise NotPlain  # a long head, within aiohttp's limits: aiohttp's
    line_end = buffer.find(b"\r\n")
    parts = bytes(buffer[:line_end]).split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1":
        raise NotPlain
    method, target, _ = parts
    route_name = route(method, target)
    if route_name is None or _FIELDS.fullmatch(buffer, line_end + 2, end + 2) is None:
        raise NotPlain
    fields: dict[bytes, bytes] = {}
    raw_fields = bytes(buffer[line_end + 2 : end])
    for field in raw_fields.split(b"\r\n") if raw_fields else ():
        name, _, value = field.partition(b":")
        name = name.lower()
        if name in fields:
            raise NotPlain
        fields[name] = value.strip(b" \t")
    if route_name == OTLP:
        # The OTLP handler inflates gzip itself, within the body limit (aiohttp's
        # decompression is off): the encoding does not change how the body is framed.
        if fields.get(b"content-encoding", b"gzip").lower() not in _OTLP_ENCODINGS:
            raise NotPlain  # aiohttp's handler answers 415
        if media_type(field_text(fields.get(b"content-type"))) is None:
            raise NotPlain  # aiohttp's handler answers 415
        if not _HANDED_OVER_OTLP.isdisjoint(fields):
            raise NotPlain
    elif not _HANDED_OVER.isdisjoint(fields):
        raise NotPlain
    if b"host" not in fields:
        raise NotPlain  # aiohttp refuses it (HTTP/1.1 requires Host): malformed_heads
    length = fields.get(b"content-length", b"")
    if not length.isdigit() or int(length) > max_body:
        raise NotPlain
    close = False
    connection = fields.get(b"connection")
    if connection is not None:
        connection = connection.lower()
        if connection == b"close":
            close = True
        elif connection != b"keep-alive":
            raise NotPlain
    if route_name == PUSH and not is_json(fields.get(b"content-type")):
        raise NotPlain  # aiohttp's handler answers 415
    start = end + 4
    return Head(route_name, method, target, fields, close, start, start + int(length))


def refuse_long_lines(head: bytes | bytearray) -> None:
    """HeadTooLong if a line of the head so far is longer than aiohttp reads: the request
    line's target (414), a header field's name or value (431)."""
    data = bytes(head)
    lines = data.split(b"\r\n")
    request_line = lines[0]
    parts = request_line.split(b" ")
    target = parts[1] if len(parts) > 1 else parts[0]
    if len(target) > MAX_REQUEST_LINE:
        raise HeadTooLong(
            414, f"the request's URL is longer than {MAX_REQUEST_LINE} bytes", "url", target
        )
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if len(name) > MAX_FIELD or len(value.strip(b" \t")) > MAX_FIELD:
            raise HeadTooLong(
                431,
                f"a header field is longer than {MAX_FIELD} bytes",
                f"header {shown(name)}",
                value.strip(b" \t"),
            )


class Answer(NamedTuple):
    status: int
    fields: tuple[tuple[bytes, bytes], ...]
    """Header fields, in order, but those every answer has (Content-Length, Date, Server)."""
    body: bytes


JSON = ((b"Content-Type", b"application/json; charset=utf-8"),)
TEXT = ((b"Content-Type", b"text/plain; charset=utf-8"),)
"""The header fields of aiohttp's answers with a body: json_response's, a text's."""
_SERVER = b"Server: " + SERVER_SOFTWARE.encode() + b"\r\n"


def answer_bytes(answer: Answer, date: bytes, close: bool) -> bytes:
    """The answer as aiohttp writes it: the same fields in the same order."""
    lines = [_status_line(answer.status)]
    for name, value in answer.fields:
        lines.append(name + b": " + value + b"\r\n")
    lines.append(b"Content-Length: %d\r\n" % len(answer.body))
    lines.append(b"Date: " + date + b"\r\n")
    lines.append(_SERVER)
    if close:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    lines.append(answer.body)
    return b"".join(lines)


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())


def logged_path(target: bytes) -> str:
    """The path as aiohttp's `request.path` gives it (percent-decoded)."""
    if b"%" not in target:
        return target.decode()
    return URL.build(path=target.decode(), encoded=True).path


def field_text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def is_json(content_type: bytes | None) -> bool:
    return (
        content_type is not None
        and content_type.partition(b";")[0].strip().lower() == b"application/json"
    )
