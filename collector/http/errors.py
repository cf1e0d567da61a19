"""API errors: JSON `{"error": ..., "details": [...]}` with the right 4xx status."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    """Raised by handlers; the middleware answers it as a JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers

    def response(self) -> web.Response:
        return error_response(self.status, self.message, self.details, self.headers)


def error_response(
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.json_response(
        {"error": message, "details": details or []}, status=status, headers=headers
    )


def field_error(field: str, reason: str) -> ApiError:
    """A 400 about one query parameter or field."""
    return ApiError(400, f"invalid {field}: {reason}", [{"field": field, "reason": reason}])
