"""`batchgate silence`: silence a job's alerts from a shell for a while, and end such a silence.

    batchgate silence --job 'etl_*' --for 2h --comment "reloading the warehouse"
    batchgate silence --expire 3f2c...

It posts an Alertmanager-shaped silence to the server's `POST /silences` (which audits it)
with the standard library alone, so it works from any job's host; `--url` and `--token`
default to `BATCHGATE_URL` and `BATCHGATE_TOKEN`, as for the SDK.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Final, TextIO

from batchgate.rules.durations import parse_duration
from batchgate.rules.matcher_strings import parse_matcher
from batchgate.rules.payloads import format_time

DEFAULT_URL: Final = "http://localhost:9091"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `batchgate silence`."""
    parser.add_argument(
        "--job", metavar="PATTERN", help="the job name, a glob: etl_* (the `job` label)"
    )
    parser.add_argument(
        "--label",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a label the alerts must have (repeatable)",
    )
    parser.add_argument(
        "--matcher",
        metavar="MATCHER",
        action="append",
        default=[],
        help="an Alertmanager matcher string, e.g. 'severity!=\"critical\"' (repeatable)",
    )
    parser.add_argument("--for", dest="duration", metavar="DURATION", help="how long: 2h, 30m")
    parser.add_argument("--comment", help="why (default: the command line)")
    parser.add_argument("--author", help="who (default: USER@HOST)")
    parser.add_argument("--expire", metavar="ID", help="end this silence now instead")
    parser.add_argument("--url", default=os.environ.get("BATCHGATE_URL", DEFAULT_URL))
    parser.add_argument("--token", default=os.environ.get("BATCHGATE_TOKEN"))


def glob_to_regex(pattern: str) -> str:
    """A job glob as the anchored regular expression a silence matcher takes."""
    parts = []
    for character in pattern:
        if character == "*":
            parts.append(".*")
        elif character == "?":
            parts.append(".")
        else:
            parts.append(re.escape(character))
    return "".join(parts)


def silence_body(parsed: argparse.Namespace, now: float) -> dict[str, Any]:
    """The silence to post; raises ValueError naming the option that is wrong."""
    matchers: list[dict[str, Any]] = []
    if parsed.job:
        is_regex = any(character in parsed.job for character in "*?")
        value = glob_to_regex(parsed.job) if is_regex else parsed.job
        matchers.append({"name": "job", "value": value, "isRegex": is_regex, "isEqual": True})
    for label in parsed.label:
        name, equals, value = label.partition("=")
        if not equals or not name:
            raise ValueError(f"--label {label!r}: write NAME=VALUE")
        matchers.append({"name": name, "value": value, "isRegex": False, "isEqual": True})
    for text in parsed.matcher:
        try:
            matcher = parse_matcher(text)
        except ValueError as exc:
            raise ValueError(f"--matcher: {exc}") from None
        matchers.append(matcher.to_dict())
    if not matchers:
        raise ValueError("say what to silence: --job, --label or --matcher")
    if not parsed.duration:
        raise ValueError("say for how long: --for 2h")
    try:
        seconds = parse_duration(parsed.duration)
    except ValueError as exc:
        raise ValueError(f"--for: {exc}") from None
    if seconds <= 0:
        raise ValueError("--for must be longer than 0s")
    author = parsed.author or f"{getpass.getuser()}@{socket.gethostname()}"
    comment = parsed.comment or "batchgate silence " + " ".join(
        part for part in sys.argv[2:] if not part.startswith("--token")
    )
    return {
        "matchers": matchers,
        "startsAt": format_time(now),
        "endsAt": format_time(now + seconds),
        "createdBy": author,
        "comment": comment.strip() or "batchgate silence",
    }


def _request(parsed: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        parsed.url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if parsed.token:
        request.add_header("Authorization", f"Bearer {parsed.token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def run(
    parsed: argparse.Namespace,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    now: float | None = None,
) -> int:
    """Post the silence (or expire one) as of `now` (default: the clock); print its id.
    Exit status 0: done, 1: refused or unreachable, 2: bad options."""
    try:
        if parsed.expire:
            answer = _request(parsed, "DELETE", f"/silences/{parsed.expire}")
            print(f"{answer['id']} {answer['status']['state']}", file=out)
            return 0
        body = silence_body(parsed, time.time() if now is None else now)
    except ValueError as exc:
        print(f"batchgate silence: {exc}", file=err)
        return 2
    except (urllib.error.URLError, OSError) as exc:
        return _failed(exc, err)
    try:
        answer = _request(parsed, "POST", "/silences", body)
    except (urllib.error.URLError, OSError) as exc:
        return _failed(exc, err)
    print(answer["silenceID"], file=out)
    return 0


def _failed(exc: Exception, err: TextIO) -> int:
    if isinstance(exc, urllib.error.HTTPError):
        try:
            detail = json.loads(exc.read()).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        print(f"batchgate silence: the server answered {exc.code}: {detail}", file=err)
    else:
        print(f"batchgate silence: cannot reach the server: {exc}", file=err)
    return 1
