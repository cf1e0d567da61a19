"""The dashboard's static files (CSS, JS, icon), read once and served with long caching:
their URLs carry a hash of their content, so a new version is never served stale."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

CONTENT_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    digest: str


@cache
def load() -> dict[str, Asset]:
    """Every file under static/, by name."""
    found: dict[str, Asset] = {}
    for entry in resources.files("batchgate.collector.http.web").joinpath("static").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if not entry.is_file() or suffix not in CONTENT_TYPES:
            continue
        body = entry.read_bytes()
        found[entry.name] = Asset(
            body, CONTENT_TYPES[suffix], hashlib.sha256(body).hexdigest()[:12]
        )
    return found


def url(name: str) -> str:
    """The versioned URL of a static file, relative to the server's root (pages have a
    `<base>`); a KeyError names a file that does not exist."""
    return f"ui/static/{name}?v={load()[name].digest}"
