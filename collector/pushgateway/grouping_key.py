"""The grouping key from a push URL: `job/<job>{/<label>/<value>}`, with `@base64` anywhere.

Mirrors the Pushgateway's handler/push.go: the path is percent-decoded *before* it is split
(as Go's router does), so `%2F` in a value splits it; values that need a `/` must use
`@base64`. Label names follow Prometheus rules and must not start with `__`. Values may be
any bytes; those that are not UTF-8 are kept (as lone surrogates) so that the push is
refused by the consistency check with the Pushgateway's own message.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Final

from batchgate.collector.pushgateway.errors import GroupingKeyError
from batchgate.collector.pushgateway.goformat import go_quote

GroupingKey = tuple[tuple[str, str], ...]
"""All grouping labels including `job`, sorted by name: canonical and hashable."""

BASE64_SUFFIX: Final = "@base64"
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_HEX_PAIR = re.compile(rb"[0-9a-fA-F]{2}")
_BASE64_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64_VALUES: Final = {char: index for index, char in enumerate(_BASE64_ALPHABET)}


def parse_grouping_key(raw_path: str) -> GroupingKey:
    """The grouping key for `raw_path`, the still percent-encoded path after `/metrics/`.

    Raises GroupingKeyError with the Pushgateway's status and message: 404 when the path is
    not a push route at all, 400 for everything its handler refuses.
    """
    path = _percent_decode(raw_path)
    if path.startswith("job/"):
        job_is_base64 = False
        rest = path[4:]
    elif path.startswith("job" + BASE64_SUFFIX + "/"):
        job_is_base64 = True
        rest = path[len("job" + BASE64_SUFFIX + "/") :]
    else:
        raise GroupingKeyError("404 page not found", status=404)
    job, slash, labels_part = rest.partition("/")
    if job_is_base64:
        decoded, error = decode_base64(job)
        if error is not None:
            raise GroupingKeyError(
                f"invalid base64 encoding in job name {go_quote(decoded)}: {error}"
            )
        job = decoded
    labels = split_labels(slash + labels_part)
    if job == "":
        raise GroupingKeyError("job name is required")
    labels["job"] = job
    return tuple(sorted(labels.items()))


def split_labels(labels: str) -> dict[str, str]:
    """handler/push.go's splitLabels: `/name/value` pairs (the leading slash included)."""
    result: dict[str, str] = {}
    if len(labels) <= 1:
        return result
    components = labels[1:].split("/")
    if len(components) % 2 != 0:
        raise GroupingKeyError(f"odd number of components in label string {go_quote(labels)}")
    for index in range(0, len(components) - 1, 2):
        name, value = components[index], components[index + 1]
        trimmed = name.removesuffix(BASE64_SUFFIX)
        if _LABEL_NAME.fullmatch(trimmed) is None or trimmed.startswith("__"):
            raise GroupingKeyError(f"improper label name {go_quote(trimmed)}")
        if name == trimmed:
            result[name] = value
            continue
        decoded, error = decode_base64(value)
        if error is not None:
            raise GroupingKeyError(
                f"invalid base64 encoding for label {trimmed}={go_quote(value)}: {error}"
            )
        result[trimmed] = decoded
    return result


def decode_base64(text: str) -> tuple[str, str | None]:
    """Go's `base64.RawURLEncoding.DecodeString(strings.TrimRight(text, "="))`.

    Returns (what was decoded, None) or (the part decoded before the error, Go's error text).
    Bytes that are not UTF-8 come back as lone surrogates (surrogateescape).
    """
    source = text.rstrip("=")
    out = bytearray()
    quantum: list[int] = []
    position = 0
    for position, char in enumerate(source):
        if char in "\r\n":
            continue  # Go's decoder skips newlines.
        value = _BASE64_VALUES.get(char)
        if value is None:
            return _decoded(out), f"illegal base64 data at input byte {position}"
        quantum.append(value)
        if len(quantum) == 4:
            bits = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) | quantum[3]
            out += bits.to_bytes(3, "big")
            quantum.clear()
    if len(quantum) == 1:
        return _decoded(out), f"illegal base64 data at input byte {position}"
    if len(quantum) == 2:
        out.append(((quantum[0] << 2) | (quantum[1] >> 4)) & 0xFF)
    elif len(quantum) == 3:
        bits = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6)
        out += (bits >> 8).to_bytes(2, "big")
    return _decoded(out), None


def _decoded(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("utf-8", "surrogateescape")


def _percent_decode(raw: str) -> str:
    """Go's path unescaping: `%XX` to a byte, `+` left alone; a bad escape is Go's bare 400."""
    if "%" not in raw:
        return raw
    pieces = raw.encode("utf-8", "surrogateescape").split(b"%")
    out = bytearray(pieces[0])
    for piece in pieces[1:]:
        if _HEX_PAIR.match(piece) is None:
            raise GroupingKeyError("400 Bad Request")
        out.append(int(piece[:2], 16))
        out += piece[2:]
    return _decoded(out)


def encode_grouping_path(key: GroupingKey) -> str:
    """A URL path (after `/metrics/`) naming `key`, with `@base64` where a value needs it."""
    labels = dict(key)
    job_name, job_value = _encode_pair("job", labels.pop("job"))
    parts = [job_name, job_value]
    for name, value in labels.items():
        parts.extend(_encode_pair(name, value))
    return "/".join(parts)


def _encode_pair(name: str, value: str) -> tuple[str, str]:
    if value == "" or any(char in value for char in "/%?#") or not value.isprintable():
        raw = value.encode("utf-8", "surrogateescape")
        encoded = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        return name + BASE64_SUFFIX, encoded or "="
    return name, urllib.parse.quote(value, safe="")
