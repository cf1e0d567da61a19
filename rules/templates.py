"""Jinja2 templates for annotations and notification bodies, in a sandboxed environment.

Templates come from configuration files; they are compiled once at load (so a syntax error is a
load error with its line) and rendered in an immutable sandbox: no attribute starting with an
underscore, no mutation of what they are given, ranges bounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from batchgate.rules.durations import format_bytes, format_duration
from batchgate.rules.yaml_reader import Reader, line_of


def _timestamp(value: Any) -> str:
    try:
        moment = dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(value: Any) -> str:
    try:
        return format_duration(float(value))
    except (TypeError, ValueError):
        return ""


def _bytes(value: Any) -> str:
    try:
        return format_bytes(float(value))
    except (TypeError, ValueError):
        return ""


def _environment() -> ImmutableSandboxedEnvironment:
    # ChainableUndefined: `{{ run.message }}` renders "" when a rule has no run, rather than
    # failing the whole annotation.
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["duration"] = _duration
    env.filters["timestamp"] = _timestamp
    env.filters["bytes"] = _bytes
    return env


ENVIRONMENT: Final = _environment()


class TemplateRenderError(Exception):
    """A notification template failed to render (annotations never raise)."""


class Template:
    """A compiled template and its source, for rendering and for error messages."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled = ENVIRONMENT.from_string(source)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render, raising TemplateRenderError on any failure."""
        try:
            return self._compiled.render(context)
        except Exception as exc:  # a template can raise anything; the caller decides
            raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc

    def render_safely(self, context: Mapping[str, Any]) -> str:
        """Render; a failure renders as a visible `<template error: ...>` rather than raising."""
        try:
            return self._compiled.render(context)
        except Exception as exc:  # an annotation must never stop an alert
            return f"<template error: {type(exc).__name__}: {exc}>"


def compile_template(reader: Reader, node: yaml.Node, text: str, what: str) -> Template | None:
    """Compile `text` read from `node`; a syntax error is reported at its line in the file."""
    try:
        return Template(text)
    except jinja2.TemplateSyntaxError as exc:
        line = line_of(node)
        style = getattr(node, "style", None)
        # In a block scalar (`|` or `>`) the text starts on the line after the indicator.
        offset = 1 if style in ("|", ">") else 0
        reader.error_at(
            line + offset + (exc.lineno or 1) - 1, f"{what}: template error: {exc.message}"
        )
        return None
