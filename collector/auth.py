"""Who may do what: tokens with roles, checked on every request.

Roles: `push` (send events and Pushgateway pushes, for the jobs its patterns allow), `read`
(queries, /metrics, the dashboard, live events) and `admin` (everything, including
deletions, wipes, silences and reloads). Credentials come as `Authorization: Bearer TOKEN`
or as HTTP basic auth with the token's name as user and the token as password (what
Pushgateway clients such as prometheus_client's `basic_auth_handler` send). With no token
configured every request is allowed, as on the Pushgateway, and the server says so at start.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

PUSH: Final = "push"
READ: Final = "read"
ADMIN: Final = "admin"
ROLES: Final = (PUSH, READ, ADMIN)
OPEN: Final = "open"
"""Routes anyone may call, with or without credentials (liveness and readiness probes)."""

ROUTE_ROLES: Final[Mapping[str, str]] = {
    "healthy": OPEN,
    "ready": OPEN,
    "push": PUSH,
    "ping": PUSH,
    "ping_event": PUSH,
    "pushgateway_push": PUSH,
    "pushgateway_delete": PUSH,
    "otlp_metrics": PUSH,
    "jobs": READ,
    "job": READ,
    "job_runs": READ,
    "job_trends": READ,
    "run": READ,
    "summary": READ,
    "queues": READ,
    "queue": READ,
    "queue_trends": READ,
    "queue_pause": ADMIN,
    "queue_resume": ADMIN,
    "run_cancel": ADMIN,
    "events": READ,
    "metrics": READ,
    "openapi": READ,
    "health": READ,
    "pushgateway_api_metrics": READ,
    "pushgateway_api_status": READ,
    "group_history": READ,
    "alerts": READ,
    "alert_history": READ,
    "silences": READ,
    "silence": READ,
    "am_alerts": READ,
    "am_silences": READ,
    "am_silence": READ,
    "am_status": READ,
    "dashboard_overview": READ,
    "dashboard_jobs": READ,
    "dashboard_job": READ,
    "dashboard_run": READ,
    "dashboard_alerts": READ,
    "dashboard_groups": READ,
    "dashboard_queues": READ,
    "dashboard_queue": READ,
    "dashboard_static": READ,
    "delete_job": ADMIN,
    "pushgateway_wipe": ADMIN,
    "create_silence": ADMIN,
    "delete_silence": ADMIN,
    "am_create_silence": ADMIN,
    "am_delete_silence": ADMIN,
    "reload": ADMIN,
    "audit": ADMIN,
}
"""The role each named route needs. A route missing here needs `admin`: new routes fail
closed until someone decides who may call them (a test lists every route)."""


@dataclass(frozen=True, slots=True)
class Token:
    """A configured credential: its name, role, the jobs it may push, its secret's hash."""

    name: str
    role: str
    sha256: str
    jobs: tuple[str, ...] = ("*",)
    _jobs: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = "|".join(fnmatch.translate(glob) for glob in self.jobs) or "(?!)"
        object.__setattr__(self, "_jobs", re.compile(pattern))

    def allows(self, needed: str) -> bool:
        """Whether this token's role may call a route that needs `needed`."""
        return needed == OPEN or self.role == ADMIN or self.role == needed

    def may_push(self, job: str) -> bool:
        return self.role == ADMIN or self._jobs.fullmatch(job) is not None


ANONYMOUS: Final = Token("anonymous", ADMIN, "")
"""Who a request is when no token is configured: allowed everything."""


class Denied(Exception):
    """Authentication failed (401) or the identity may not do this (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Authenticator:
    """Matches credentials against the configured tokens, in constant time per token."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tuple(tokens)

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def identify(self, authorization: str | None) -> Token:
        """The token behind an Authorization header; Denied(401) when there is none."""
        if not self.enabled:
            return ANONYMOUS
        if not authorization:
            raise Denied(401, "authentication required: send a Bearer token or basic auth")
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            name, secret = None, credentials.strip()
        elif scheme == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise Denied(401, "malformed basic auth credentials") from None
            name, _, secret = decoded.partition(":")
        else:
            raise Denied(401, f"unsupported authorization scheme {scheme!r}")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        found = None
        for token in self.tokens:  # every token compared: the time does not tell which
            if hmac.compare_digest(token.sha256, digest) and (name is None or name == token.name):
                found = token
        if found is None:
            raise Denied(401, "invalid credentials")
        return found


def authorize(token: Token, route: str | None) -> None:
    """Denied(403) unless the token's role may call the named route."""
    needed = ROUTE_ROLES.get(route or "", ADMIN)
    if not token.allows(needed):
        raise Denied(
            403, f"token {token.name!r} (role {token.role}) may not do this: needs {needed}"
        )


def check_push(token: Token, jobs: Sequence[str]) -> None:
    """Denied(403) naming the first job the token may not push."""
    for job in jobs:
        if not token.may_push(job):
            raise Denied(
                403,
                f"token {token.name!r} may not push job {job!r} (allowed: {', '.join(token.jobs)})",
            )


def tokens_from_config(
    entries: Any, environ: Mapping[str, str], read_file: Any
) -> tuple[Token, ...]:
    """Tokens from the config file's `auth.tokens`; ValueError naming the entry and why.

    Each entry has `name`, `role`, optional `jobs` (push role: job-name globs) and exactly
    one of `token_sha256` (hex), `token_env` (a variable holding the token) or
    `token_file` (a file holding it; surrounding whitespace is ignored).
    """
    if not isinstance(entries, list):
        raise ValueError("must be a list of tokens")
    tokens = []
    names = set()
    for number, entry in enumerate(entries, start=1):
        where = f"entry {number}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a mapping with name, role and a secret")
        known = {"name", "role", "jobs", "token_sha256", "token_env", "token_file"}
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ValueError(
                f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ValueError(f"{where}: name must be letters, digits, '.', '_' or '-'")
        where = f"{where} ({name})"
        if name in names:
            raise ValueError(f"{where}: the name is used twice")
        names.add(name)
        role = entry.get("role")
        if role not in ROLES:
            raise ValueError(f"{where}: role must be one of {', '.join(ROLES)}")
        jobs = entry.get("jobs", ["*"])
        if not isinstance(jobs, list) or not all(isinstance(j, str) and j for j in jobs):
            raise ValueError(f"{where}: jobs must be a list of job-name globs")
        if "jobs" in entry and role != PUSH:
            raise ValueError(f"{where}: jobs only applies to the push role")
        secrets = [key for key in ("token_sha256", "token_env", "token_file") if key in entry]
        if len(secrets) != 1:
            raise ValueError(f"{where}: give exactly one of token_sha256, token_env, token_file")
        tokens.append(Token(name, role, _secret_hash(where, secrets[0], entry, environ, read_file),
                            tuple(jobs)))  # fmt: skip
    return tuple(tokens)


def _secret_hash(
    where: str, kind: str, entry: dict[str, Any], environ: Mapping[str, str], read_file: Any
) -> str:
    value = entry[kind]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {kind} must be a non-empty string")
    if kind == "token_sha256":
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError(
                f"{where}: token_sha256 must be 64 hex digits (sha256sum of the token)"
            )
        return value.lower()
    if kind == "token_env":
        secret = environ.get(value)
        if not secret:
            raise ValueError(f"{where}: environment variable {value} is not set or empty")
    else:
        try:
            secret = read_file(value).strip()
        except OSError as error:
            raise ValueError(f"{where}: cannot read token_file {value}: {error.strerror}") from None
        if not secret:
            raise ValueError(f"{where}: token_file {value} is empty")
    return hashlib.sha256(secret.encode()).hexdigest()
