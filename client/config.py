"""Where and how a job reaches its collector: arguments first, then the environment.

`Connection` is the one place the SDK's settings are resolved. Jobs with equal connections
share one background sender. Names are checked here with the collector's own rules, so a
mistake is reported where it is made rather than as a refused push later.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

logger = logging.getLogger("batchgate.client")

DEFAULT_URL = "http://127.0.0.1:9091"

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
"""Custom metrics' names: Prometheus metric-name rules."""
NOT_IN_JOB_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f/\ud800-\udfff]")
"""A job name is any text (`nightly-backup`, `etl.orders`, `rapport-été`) but for control
characters, lone surrogates and `/`: the collector's own rule."""
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}\Z")

MAX_LABELS = 32
MAX_LABEL_VALUE_LENGTH = 1024
"""Also a job name's: a job name is a label value."""
MAX_METRICS = 64
MESSAGE_LIMIT = 4096
"""The collector keeps this many characters of a message."""

_SPOOL_OFF = frozenset(("", "0", "off", "none", "false", "no"))


def check_job_name(name: object) -> str:
    """Return `name` if it is a valid job name, else raise ValueError saying why."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"job name {name!r} must be a non-empty string")
    if len(name) > MAX_LABEL_VALUE_LENGTH:
        raise ValueError(f"job name is longer than {MAX_LABEL_VALUE_LENGTH} characters")
    bad = NOT_IN_JOB_NAMES.search(name)
    if bad is not None:
        raise ValueError(f"job name {name!r} must not contain {bad.group()!r}")
    return name


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of `labels` if every name and value is valid, else raise ValueError."""
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} labels exceeds the limit of {MAX_LABELS}")
    checked = {}
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(
                f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
            )
        if name == "job":
            raise ValueError("'job' is the job's name, not a label")
        if not isinstance(value, str):
            raise ValueError(f"label {name}: value must be a string, not {type(value).__name__}")
        if len(value) > MAX_LABEL_VALUE_LENGTH:
            raise ValueError(f"label {name}: value is longer than {MAX_LABEL_VALUE_LENGTH}")
        checked[name] = value
    return checked


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ValueError(
            f"run_id {run_id!r} must be 1-128 characters of A-Z a-z 0-9 . _ : @ + - "
            "not starting with a symbol"
        )
    return run_id


def is_metric_value(value: object) -> bool:
    """A finite int or float; bool is refused as the collector refuses JSON true/false."""
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def parse_labels(text: str) -> dict[str, str]:
    """Parse `k=v,k2=v2` (BATCHGATE_LABELS, `--label`); raise ValueError on a malformed pair."""
    labels = {}
    for pair in text.split(","):
        pair = pair.strip()
        if not pair:
            continue
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"label {pair!r} is not of the form name=value")
        labels[name.strip()] = value.strip()
    return check_labels(labels)


def labels_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """BATCHGATE_LABELS, or {} with one warning if it is malformed (never raise into a job)."""
    text = (os.environ if environ is None else environ).get("BATCHGATE_LABELS", "")
    try:
        return parse_labels(text)
    except ValueError as error:
        logger.warning("batchgate: ignoring BATCHGATE_LABELS: %s", error)
        return {}


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        logger.warning("batchgate: ignoring %s=%r: not a number", name, text)
        return default
    if not math.isfinite(value) or value < 0:
        logger.warning("batchgate: ignoring %s=%r: must be a non-negative number", name, text)
        return default
    return value


def push_url(url: str) -> str:
    """The collector's `/push` endpoint for a base URL (a URL already ending in /push is kept)."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/push") else url + "/push"


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach a collector. Build it with `Connection.resolve(...)` to apply defaults.

    - `url`: the collector's base URL (or its /push URL); several, comma-separated, for
      several nodes of one batchgate (high availability): events go to whichever leads.
    - `token`: sent as `Authorization: Bearer <token>` when set.
    - `spool_dir`: where undeliverable events wait for the collector (None: no file, memory only).
    - `spool_max_bytes`: the most the spool may hold; beyond it progress is dropped, start and
      finish events are still kept.
    - `timeout`: seconds for one HTTP request.
    - `flush_timeout`: the most the process waits at exit to deliver what is pending.
    - `retry_initial_delay`, `retry_max_delay`: exponential backoff bounds (seconds), jittered.
    """

    url: str = DEFAULT_URL
    token: str | None = field(default=None, repr=False)
    spool_dir: str | None = None
    spool_max_bytes: int = 16 * 1024 * 1024
    timeout: float = 5.0
    flush_timeout: float = 5.0
    retry_initial_delay: float = 0.5
    retry_max_delay: float = 30.0
    batch_size: int = 500

    @property
    def push_url(self) -> str:
        """The first node's /push URL (the one the spool is named after)."""
        return self.push_urls[0]

    @property
    def push_urls(self) -> list[str]:
        """Every node's /push URL, in the order given."""
        urls = [push_url(url) for url in self.url.split(",") if url.strip()]
        return urls or [push_url(DEFAULT_URL)]

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        token: str | None = None,
        *,
        spool_dir: str | None = None,
        flush_timeout: float | None = None,
        timeout: float | None = None,
        retry_max_delay: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Connection:
        """Arguments win; then BATCHGATE_URL, BATCHGATE_TOKEN, BATCHGATE_SPOOL_DIR,
        BATCHGATE_FLUSH_TIMEOUT, BATCHGATE_TIMEOUT; then the defaults."""
        env = os.environ if environ is None else environ
        resolved_url = url or env.get("BATCHGATE_URL") or DEFAULT_URL
        resolved_token = token if token is not None else (env.get("BATCHGATE_TOKEN") or None)
        if spool_dir is None:
            spool_text = env.get("BATCHGATE_SPOOL_DIR")
            spool_dir = default_spool_dir(env) if spool_text is None else spool_text
        resolved_spool = None if spool_dir.strip().lower() in _SPOOL_OFF else spool_dir
        return cls(
            url=resolved_url,
            token=resolved_token,
            spool_dir=resolved_spool,
            timeout=timeout if timeout is not None else _env_float(env, "BATCHGATE_TIMEOUT", 5.0),
            flush_timeout=(
                flush_timeout
                if flush_timeout is not None
                else _env_float(env, "BATCHGATE_FLUSH_TIMEOUT", 5.0)
            ),
            retry_max_delay=retry_max_delay if retry_max_delay is not None else 30.0,
        )


def default_spool_dir(environ: Mapping[str, str]) -> str:
    """$XDG_CACHE_HOME/batchgate/spool, ~/.cache/batchgate/spool, or %LOCALAPPDATA% on Windows.

    When that cannot be created the spool falls back to a private directory under the
    system's temporary directory (see `batchgate.client.spool`).
    """
    if os.name == "nt" and environ.get("LOCALAPPDATA"):
        return os.path.join(environ["LOCALAPPDATA"], "batchgate", "spool")
    cache = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "batchgate", "spool")
