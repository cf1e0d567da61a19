"""A store URL (`postgresql://user:password@host:port/database`), told apart and shown
without its password. No driver is imported here: the settings use it too."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

SCHEMES = ("postgresql", "postgres")

_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&]*")


def check_url(url: str) -> str:
    """`url` if it is a PostgreSQL URL; ValueError (naming no password) otherwise."""
    if not isinstance(url, str):
        raise ValueError("expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError as error:
        raise ValueError(f"{masked(url)!r} is not a URL: {error}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"{masked(url)!r}: expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    if not parts.path.strip("/") and not dict(parse_qsl(parts.query)).get("dbname"):
        raise ValueError(f"{masked(url)!r}: name the database (postgresql://HOST/DATABASE)")
    return url


def password_of(url: str) -> str | None:
    """The password the URL carries (in its user part or as `?password=`), if any."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return parts.password
    return dict(parse_qsl(parts.query)).get("password") or None


def masked(url: str) -> str:
    """The URL with its password replaced by `***`: what logs and errors may show."""
    scheme, sep, rest = url.partition("://")
    if sep:
        authority_end = len(rest)
        for stop in "/?#":
            found = rest.find(stop)
            if found != -1:
                authority_end = min(authority_end, found)
        authority, tail = rest[:authority_end], rest[authority_end:]
        user_info, at, host = authority.rpartition("@")
        if at and ":" in user_info:
            user_info = user_info.split(":", 1)[0] + ":***"
        url = f"{scheme}{sep}{user_info}{at}{host}{tail}"
    return _QUERY_PASSWORD.sub(r"\1***", url)


def scrubbed(text: str, *secrets: str | None) -> str:
    """`text` with every occurrence of the secrets replaced by `***` (for error messages
    that might quote a connection string)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def password_from_file(path: Path) -> str:
    """The password a file holds, without its line end; OSError if it cannot be read."""
    return path.read_text(encoding="utf-8").rstrip("\r\n")
