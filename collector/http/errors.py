"""API errors: JSON `{"error": ..., "details": [...]}` with the right 4xx status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchgate.collector.ingest import Refused


class ApiError(Refused):
    """Raised by handlers; the middleware answers it, as the ingest service's `Refused`,
    as a JSON error."""


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
