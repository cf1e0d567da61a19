"""aiohttp's protocol for the connections the front door hands over, answering aiohttp's own
refusals in batchgate's shape.

The front door checks the first head of a connection itself (`malformed_heads.py`), but once
a connection is aiohttp's, two refusals are aiohttp's alone: a later request's malformed
head on a kept-alive connection, and a chunked body's bad framing. aiohttp answers both, and
whatever escapes every handler, through `RequestHandler.handle_error`, in plain text that
quotes the bytes (`bytearray(b'...')`). `RequestHandler` here is aiohttp's own with that
public method overridden: the same logging, the same closing of the connection, the answer
in JSON naming the field, the value and the reason. No I/O of its own.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final

from aiohttp import web

from batchgate.collector.http.errors import error_response

HANDLER_ARGUMENTS: Final = MappingProxyType[str, Any]({"auto_decompress": False})
"""What every connection's protocol gets besides the runner's arguments: aiohttp's through
the app's `handler_args`, the front door's through `RequestHandler` here. Bodies are
inflated by the endpoints themselves, with a bound (and, for the Pushgateway's routes, with
Go's reader's exact behaviour on broken streams)."""
SHOWN_CHARACTERS: Final = 64
"""Characters of the refused bytes quoted back in an answer."""

# aiohttp's messages: a reason, then the bytes as Python writes them (b'...' or
# bytearray(b'...')), often on a line of their own with a caret under the fault.
_QUOTED = re.compile(r"""(?:bytearray\()?b(['"])(?P<bytes>.*?)\1\)?""", re.DOTALL)


class RequestHandler(web.RequestHandler):
    """aiohttp's protocol for one connection, answering its own refusals in JSON."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own first: it logs, and raises if an answer was already begun.
        super().handle_error(request, status, exc, message)
        reason, value = refusal(status, message)
        details = [{"field": "request", "value": value, "reason": reason}]
        answer = error_response(status, f"the request was refused: {reason}", details)
        answer.force_close()
        return answer


def refusal(status: int, message: str | None) -> tuple[str, str | None]:
    """The reason for a refusal and the refused bytes, from aiohttp's message: "invalid
    header token" and `Bad\\x01Header: v` from "Invalid header token:\\n\\n  b'Bad\\x01Header:
    v'\\n       ^". A server error says nothing of its cause (the log does)."""
    if status >= 500 or not message:
        return HTTPStatus(status).phrase.lower(), None
    quoted = _QUOTED.search(message)
    words = message[: quoted.start()] if quoted else message
    parts = [" ".join(part.split()).strip("(. ") for part in words.split(":")]
    reason = ": ".join(part for part in parts if part)
    phrase = HTTPStatus(status).phrase
    reason = phrase.lower() if reason in ("", phrase) else reason[0].lower() + reason[1:]
    if quoted is None:
        return reason, None
    shown = quoted["bytes"]
    if len(shown) > SHOWN_CHARACTERS:
        shown = shown[:SHOWN_CHARACTERS] + "..."
    return reason, shown
