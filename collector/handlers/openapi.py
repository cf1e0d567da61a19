"""`GET /openapi.json`: the API description, served from the YAML shipped in the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

from collector import __version__


@cache
def spec() -> dict[str, Any]:
    text = resources.files("collector").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    document["info"]["version"] = __version__
    return document


@cache
def _body() -> bytes:
    return json.dumps(spec(), indent=2).encode()


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=_body(), content_type="application/json")
