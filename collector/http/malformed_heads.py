"""What aiohttp's strict parser refuses in a request's head, found by the front door before
aiohttp sees it, so that the refusal is batchgate's (JSON; plain text on the Pushgateway's
routes) and not aiohttp's plain text quoting the bytes. No I/O here.

The rules are RFC 9112's as aiohttp applies them (llhttp in its strict mode, and aiohttp's
own checks after it), and they refuse only what aiohttp surely refuses: a head they let
through is aiohttp's to judge, so turning the front door off (`http.fast_path: false`)
changes the shape of a refusal, never whether there is one. They do not see a chunked
body's framing, nor the requests that follow on a connection once it is aiohttp's.
"""

from __future__ import annotations

import re
from typing import Any, Final

MAX_HEADERS: Final = 128
"""Header fields in a head that aiohttp reads (its `max_headers`, left at its default)."""
SHOWN_BYTES: Final = 64
"""Bytes of a refused value quoted back in an answer."""

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# A field value's forbidden bytes: the controls but HTAB, and DEL (obs-text is allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_WHITESPACE = b" \t"
# A head that is surely well formed but for the fields checked by name (`_plainly_fine`):
# most heads handed over (a GET, a DELETE) pass with this one match and a few counts.
_WELL_FORMED = re.compile(
    rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) [\x21-\x7e]+ HTTP/1\.([01])"
    rb"(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*)*"
)

# The versions llhttp reads; any other HTTP/d.d it refuses. RTSP/ and ICE/ lines, which it
# also reads, are left to it.
_READ_VERSIONS: Final = frozenset({b"HTTP/0.9", b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0"})
# Every method llhttp knows (HTTP, WebDAV, RTSP and the rest); another token it refuses. A
# method here that it did not know would be handed over, and refused by aiohttp: the list
# errs that way.
_KNOWN_METHODS: Final = frozenset(
    b"DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH "
    b"SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY "
    b"SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE PRI DESCRIBE ANNOUNCE "
    b"SETUP PLAY PAUSE TEARDOWN GET_PARAMETER SET_PARAMETER REDIRECT RECORD FLUSH QUERY".split()
)
# The fields RFC 9110 allows once, whose repeats aiohttp refuses (its SINGLETON_HEADERS).
_SINGLE: Final = frozenset({
    b"content-length", b"content-location", b"content-range", b"content-type", b"etag",
    b"host", b"max-forwards", b"server", b"transfer-encoding", b"user-agent",
})  # fmt: skip
_SINGLE_FIELD = re.compile(rb"\r\n(" + b"|".join(sorted(_SINGLE)) + rb"):")
_FRAMING: Final = frozenset({b"content-length", b"transfer-encoding"})


class HeadRefused(Exception):
    """A head the front door refuses itself, and then closes the connection: what follows
    it cannot be told apart from it. The answer names the field, the value (cut short,
    printable) and the reason."""

    def __init__(
        self, status: int, message: str, field: str, value: bytes | bytearray, reason: str
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details: list[dict[str, Any]] = [
            {"field": field, "value": shown(value), "reason": reason}
        ]


class HeadMalformed(HeadRefused):
    """A head aiohttp's parser would refuse: 400."""

    def __init__(self, field: str, value: bytes, reason: str) -> None:
        super().__init__(400, f"invalid {field}: {reason}", field, value, reason)


def shown(value: bytes | bytearray) -> str:
    """The first bytes of a value as text anyone can read: bytes other than printable ASCII
    as \\xNN escapes, and "..." when cut."""
    cut = value[:SHOWN_BYTES]
    text = "".join(chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}" for byte in cut)
    return text + "..." if len(value) > SHOWN_BYTES else text


def check_head(buffer: bytes | bytearray, max_headers: int = MAX_HEADERS) -> None:
    """HeadMalformed if aiohttp's parser would refuse the head at the buffer's start. The
    head need not be whole: a line ended by LF alone is refused as soon as it is there."""
    end = buffer.find(b"\r\n\r\n")
    whole = end >= 0
    head = bytes(buffer[:end] if whole else buffer)
    if whole and _plainly_fine(head, max_headers):
        return
    lines = head.split(b"\r\n")
    if not whole:
        # Only the lines up to the first with a bare LF count; the rest is still arriving.
        bare = next((i for i, line in enumerate(lines) if b"\n" in line), None)
        if bare is None:
            return
        del lines[bare + 1 :]
    request_line, bare_lf, _ = lines[0].partition(b"\n")
    version = _check_request_line(request_line)
    if version is None:
        return  # not method, target and version: aiohttp's to judge (HTTP/0.9, ...)
    if bare_lf:
        raise HeadMalformed("request line", request_line, "ends with LF alone, not CRLF")
    fields = lines[1:]
    if len(fields) > max_headers:
        raise HeadMalformed("head", head, f"has more than {max_headers} header fields")
    seen: dict[bytes, bytes] = {}
    for line in fields:
        name, value = _check_field(line)
        lower = name.lower()
        if lower in _SINGLE and lower in seen:
            raise HeadMalformed(f"header {shown(name)}", value, "appears more than once")
        seen[lower] = value
    if whole:
        _check_framing(seen, version)


def _plainly_fine(head: bytes, max_headers: int) -> bool:
    """Whether the head is surely one aiohttp reads, found cheaply; False leaves it to the
    line by line checks."""
    well_formed = _WELL_FORMED.fullmatch(head)
    if well_formed is None or well_formed[1] not in _KNOWN_METHODS:
        return False
    if head.count(b"\r\n") > max_headers:
        return False
    single = _SINGLE_FIELD.findall(head.lower())
    if len(set(single)) != len(single) or not _FRAMING.isdisjoint(single):
        return False
    return well_formed[2] == b"0" or b"host" in single


def _check_request_line(line: bytes) -> bytes | None:
    """The version of a request line of three parts, HeadMalformed if a part is one aiohttp
    refuses; None for a line of another shape."""
    parts = line.split(b" ")
    if len(parts) > 3 and all(parts):
        raise HeadMalformed("request line", line, "has more than three parts (a space in the URL?)")
    if len(parts) > 3 and all(parts[:3]) and not any(parts[3:]):
        raise HeadMalformed("request line", line, "ends with a space")
    if len(parts) != 3 or not all(parts):
        return None  # spaces doubled, HTTP/0.9's two parts: aiohttp reads some of these
    method, target, version = parts
    if _TOKEN.fullmatch(method) is None:
        raise HeadMalformed("method", method, "is not a token")
    if method not in _KNOWN_METHODS:
        raise HeadMalformed("method", method, "is not a method the server knows")
    if _TARGET.fullmatch(target) is None:
        raise HeadMalformed("url", target, "has a control character, a space or a non-ASCII byte")
    if version.startswith((b"RTSP/", b"ICE/")):
        return None
    if _VERSION.fullmatch(version) is None or version not in _READ_VERSIONS:
        raise HeadMalformed("version", version, "is not HTTP/1.1 or HTTP/1.0")
    return version


def _check_field(line: bytes) -> tuple[bytes, bytes]:
    """A header field's name and value (without its surrounding whitespace); HeadMalformed
    for a line aiohttp refuses."""
    if b"\n" in line or b"\r" in line:
        raise HeadMalformed("header line", line, "has a CR or an LF alone, not CRLF")
    if line[:1] in (b" ", b"\t"):
        raise HeadMalformed("header line", line, "begins with whitespace (obsolete line folding)")
    name, colon, value = line.partition(b":")
    if not colon:
        raise HeadMalformed("header line", line, "has no colon")
    if not name:
        raise HeadMalformed("header line", line, "has no name before its colon")
    if name[-1:] in (b" ", b"\t"):
        field = f"header {shown(name.rstrip(_WHITESPACE))}"
        raise HeadMalformed(field, line, "has whitespace before its colon")
    if _TOKEN.fullmatch(name) is None:
        raise HeadMalformed(f"header {shown(name)}", line, "has a name that is not a token")
    value = value.strip(_WHITESPACE)
    if _CONTROL.search(value) is not None:
        raise HeadMalformed(f"header {shown(name)}", value, "has a control character")
    return name, value


def _check_framing(fields: dict[bytes, bytes], version: bytes) -> None:
    """HeadMalformed if the fields that frame the body, or Host, are ones aiohttp refuses."""
    if version == b"HTTP/1.1" and b"host" not in fields:
        raise HeadMalformed("header Host", b"", "is missing (HTTP/1.1 requires it)")
    length = fields.get(b"content-length")
    if length is not None:
        if not length.isdigit():
            raise HeadMalformed("header Content-Length", length, "is not a number of bytes")
        if int(length) >= 1 << 64:
            raise HeadMalformed("header Content-Length", length, "is too large")
    coding = fields.get(b"transfer-encoding")
    if coding:
        if length is not None:
            raise HeadMalformed(
                "header Transfer-Encoding", coding, "cannot be sent with Content-Length"
            )
        codings = [part.strip(_WHITESPACE).lower() for part in coding.split(b",")]
        if codings[-1] != b"chunked" and _TOKEN.fullmatch(codings[-1]):
            raise HeadMalformed("header Transfer-Encoding", coding, "does not end with chunked")
        if b"chunked" in codings[:-1]:
            raise HeadMalformed(
                "header Transfer-Encoding", coding, "has chunked before its last coding"
            )
