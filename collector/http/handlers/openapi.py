"""`GET /openapi.json`: the API description, from the YAML shipped in the package, with
what every protected route shares (its security and its 401/403 answers) added once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

from batchgate.collector import __version__
from batchgate.collector.auth import OPEN, ROUTE_ROLES

AUTH_ANSWERS = {
    "401": {"$ref": "#/components/responses/Unauthenticated"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document (the tests hold the server to this very value)."""
    text = (
        resources.files("batchgate.collector.http")
        .joinpath("openapi.yaml")
        .read_text(encoding="utf-8")
    )
    document: dict[str, Any] = yaml.safe_load(text)
    document["info"]["version"] = __version__
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            role = ROUTE_ROLES.get(operation.get("x-route", ""), "admin")
            if role == OPEN:
                operation["security"] = [{}]
                continue
            operation.setdefault("description", "")
            operation["description"] = (
                f"{operation['description']}\n\nNeeds a token with the `{role}` role"
                " (or `admin`) when tokens are configured."
            ).strip()
            for status, answer in AUTH_ANSWERS.items():
                operation["responses"].setdefault(status, answer)
    return document


@cache
def _body() -> bytes:
    return json.dumps(spec(), indent=2).encode()


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=_body(), content_type="application/json")
