"""GET /openapi.json describes every route the server has, and the document is valid."""

from __future__ import annotations

import re

import jsonschema

from tests.helpers import Client, get
from tests.openapi_check import spec


async def test_it_describes_every_route(client: Client) -> None:
    document = await get(client, "/openapi.json")
    assert document["openapi"].startswith("3.1")
    served = set()
    for route in client.app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource else ""
        served.add((route.method.lower(), re.sub(r"\{([^}:]+)(:[^}]*)?\}", r"{\1}", path)))
    described = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert served - described == set(), "routes missing from openapi.yaml"
    assert described - served == set(), "openapi.yaml describes routes that do not exist"


def test_every_schema_in_the_document_is_a_valid_json_schema() -> None:
    for name, schema in spec()["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
