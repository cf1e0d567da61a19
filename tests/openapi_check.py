"""Holding the server to its OpenAPI document: every JSON answer a test receives is
validated against the schema the document gives for that path, method and status."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from batchgate.collector.http.handlers.openapi import spec as served_spec

SPEC_URI = "urn:batchgate:openapi"


def spec() -> dict[str, Any]:
    """The document the server serves."""
    return served_spec()


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(
            r"\{[^}]+\}", r"[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        routes.append((re.compile(f"^{pattern}$"), template))
    return routes


def path_template(path: str) -> str:
    for pattern, template in _templates():
        if pattern.match(path):
            return template
    raise AssertionError(f"{path} is not described in openapi.yaml")


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    template = path_template(path)
    operation = spec()["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template} is not described in openapi.yaml"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {template} {status} is not described in openapi.yaml"
    if "$ref" in response:
        response = _resolve(response["$ref"])
    content = response.get("content", {})
    assert "application/json" in content, f"{method} {template} {status} is not JSON"
    return dict(content["application/json"]["schema"])


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """Raise if `body` does not match what openapi.yaml promises for this answer."""
    schema = _rebase(response_schema(method, path, status))
    validator = jsonschema.Draft202012Validator(
        schema, registry=_registry(), format_checker=jsonschema.FormatChecker()
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path)
        raise AssertionError(
            f"{method} {path} {status} does not match openapi.yaml at {where!r}: {first.message}"
        )


def _rebase(schema: Any) -> Any:
    """Point local `#/...` references at the registered document."""
    if isinstance(schema, dict):
        return {
            key: (SPEC_URI + value if key == "$ref" and value.startswith("#") else _rebase(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(item) for item in schema]
    return schema
