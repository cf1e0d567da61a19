"""The errors a push can end in, each with the HTTP status and the exact text to answer with.

`message` is what the Pushgateway writes with `http.Error` (which appends a newline): a handler
answers `status` with `message + "\\n"` as `text/plain; charset=utf-8` to be byte-compatible.
"""

from __future__ import annotations

from typing import Final

INCONSISTENT_PREFIX: Final = "pushed metrics are invalid or inconsistent with existing metrics: "


class PushgatewayError(Exception):
    """Base class: a request the Pushgateway would refuse, with its status and message."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GroupingKeyError(PushgatewayError):
    """The URL path does not name a valid grouping key (bad base64, label name, ...)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class BodyParseError(PushgatewayError):
    """The body is not valid text exposition format or delimited protobuf."""


class TextParseError(BodyParseError):
    """expfmt's ParseError: the first error, with the line it was found on."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"text format parsing error in line {line}: {reason}")
        self.line = line
        self.reason = reason


class ProtobufParseError(BodyParseError):
    """The delimited protobuf stream is truncated or malformed."""


class InconsistentPushError(PushgatewayError):
    """The push parsed but is invalid or clashes with what is stored; the failure time is set.

    `key` is the group pushed to; `group_changed` is whether the registry recorded the failure
    (the group's push_failure_time_seconds, creating the group if needed): persist it then.
    """

    def __init__(
        self,
        errors: list[str],
        key: tuple[tuple[str, str], ...] | None = None,
        group_changed: bool = False,
    ) -> None:
        self.errors = errors
        self.key = key
        self.group_changed = group_changed
        if len(errors) == 1:
            detail = errors[0]
        else:
            # client_golang's MultiError formatting.
            detail = f"{len(errors)} error(s) occurred:" + "".join(f"\n* {e}" for e in errors)
        super().__init__(INCONSISTENT_PREFIX + detail)


class PushTooLargeError(PushgatewayError):
    """The push exceeds a configured bound (body size or series per group): answer 413."""

    status = 413
