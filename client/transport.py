"""One HTTP push of a batch of events, and what its answer means for the sender.

The HTTP call itself is a `Transport`: a callable that can be replaced (a test or an
embedding program may pass its own), so nothing here needs patching to be tested.
"""

from __future__ import annotations

import email.utils
import enum
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batchgate import __version__

USER_AGENT = f"batchgate-client/{__version__} (python)"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


Transport = Callable[[str, bytes, Mapping[str, str], float], Response]
"""`(url, body, headers, timeout) -> Response`; raises OSError when there is no answer."""


def urllib_transport(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
    """POST with urllib: honours the usual proxy variables and the system's CA store."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(), dict(answer.headers.items()))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.read(), dict(error.headers.items()))
    except urllib.error.URLError as error:
        reason = error.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None
    except (ValueError, http.client.HTTPException) as error:
        # A malformed URL or a garbled answer: no usable reply, like a connection error.
        raise OSError(f"{type(error).__name__}: {error}") from None


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    """No durable answer (connection error, 408, 429, 5xx): try the same events again later."""
    REJECTED = "rejected"
    """400: some events are invalid and nothing was applied; `bad_indices` names them."""
    TOO_LARGE = "too_large"
    """413: the batch is too big; send it in smaller pieces."""
    PERMANENT = "permanent"
    """Another 4xx (a bad token, a wrong URL): sending these events again will not help."""


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str = ""
    status: int | None = None
    bad_indices: frozenset[int] = frozenset()
    retry_after: float | None = None
    leader: str | None = None
    """The base URL a standby named as the leader's (its `Batchgate-Leader` header)."""
    commands: tuple[dict[str, Any], ...] = ()
    """What the answer asks a worker of a queue to do (`commands`: pause, resume, cancel)."""


def push(
    transport: Transport, url: str, token: str | None, events: list[dict[str, Any]], timeout: float
) -> Outcome:
    """Send `events` as one JSON array and classify the answer. Never raises."""
    body = json.dumps(events, separators=(",", ":"), allow_nan=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = transport(url, body, headers, timeout)
    except OSError as error:
        return Outcome(Verdict.RETRY, f"cannot reach {url}: {describe_error(error)}")
    except Exception as error:  # a custom transport's bug must not reach the job either
        return Outcome(Verdict.RETRY, f"transport failed: {type(error).__name__}: {error}")
    return classify(response)


LEADER_HEADER = "batchgate-leader"
"""Where a standby names the leader (lower case: headers are compared so)."""


def push_to_leader(
    transport: Transport,
    urls: list[str],
    first: int,
    token: str | None,
    events: list[dict[str, Any]],
    timeout: float,
) -> tuple[Outcome, int]:
    """Push to `urls[first]`, and while the answer says "not here" (no answer, or a 503:
    a standby's, or a node without its database) to the others in turn, each once; a
    standby's leader first when it is one of them. The outcome, and the index of the URL
    that gave it (where to start next time). Never raises."""
    index = first % len(urls)
    outcome = push(transport, urls[index], token, events, timeout)
    for _ in range(len(urls) - 1):
        if outcome.verdict is not Verdict.RETRY or outcome.status not in (None, 503):
            break
        named = [i for i, url in enumerate(urls) if _same_node(url, outcome.leader)]
        index = named[0] if named and named[0] != index else (index + 1) % len(urls)
        outcome = push(transport, urls[index], token, events, timeout)
    return outcome, index


def _same_node(push_url: str, base_url: str | None) -> bool:
    return base_url is not None and push_url.rstrip("/") == base_url.rstrip("/") + "/push"


def classify(response: Response) -> Outcome:
    status = response.status
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, status=status, commands=_commands(response.body))
    detail = _error_text(response.body)
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (408, 429) or status >= 500:
        headers = response.headers
        leader = next((v for k, v in headers.items() if k.lower() == LEADER_HEADER), None)
        return Outcome(
            Verdict.RETRY, reason, status, retry_after=_retry_after(headers), leader=leader
        )
    if status == 413:
        return Outcome(Verdict.TOO_LARGE, reason, status)
    if status == 400:
        return Outcome(Verdict.REJECTED, reason, status, bad_indices=_bad_indices(response.body))
    return Outcome(Verdict.PERMANENT, reason, status)


def _commands(body: bytes) -> tuple[dict[str, Any], ...]:
    """The answer's `commands`, if it has any (most have none: not even parsed then)."""
    if b'"commands"' not in body:
        return ()
    try:
        found = json.loads(body).get("commands")
    except (ValueError, AttributeError):
        return ()
    return tuple(c for c in found if isinstance(c, dict)) if isinstance(found, list) else ()


def describe_error(error: OSError) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return error.strerror or str(error) or type(error).__name__


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_text(body: bytes) -> str:
    decoded = _decode(body)
    if isinstance(decoded, dict):
        text = str(decoded.get("error", ""))
        details = decoded.get("details")
        if isinstance(details, list) and details:
            parts = [
                f"{d.get('field', '?')}: {d.get('reason', '?')}"
                for d in details[:3]
                if isinstance(d, dict)
            ]
            text += " (" + "; ".join(parts) + (", ..." if len(details) > 3 else "") + ")"
        return text
    return body[:200].decode("utf-8", "replace").strip()


def _bad_indices(body: bytes) -> frozenset[int]:
    decoded = _decode(body)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("details"), list):
        return frozenset()
    return frozenset(
        d["index"]
        for d in decoded["details"]
        if isinstance(d, dict) and type(d.get("index")) is int and d["index"] >= 0
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
