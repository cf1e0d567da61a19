"""Logs: logfmt or JSON lines on stderr, with an access log line per request that a
higher log level turns off."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from batchgate.collector.observability.logs import LogfmtFormatter
from tests.helpers import ServerProcess

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _requests_logged(server: ServerProcess) -> list[str]:
    urllib.request.urlopen(f"{server.url}/jobs?q=x", timeout=5).read()
    assert server.stop() == 0
    return [line for line in server.log.read_text().splitlines() if "/jobs" in line]


def test_it_logs_each_request_as_a_json_line(server_process: Callable[..., ServerProcess]) -> None:
    (line,) = _requests_logged(server_process("--log-format", "json"))
    entry = json.loads(line)
    assert entry["logger"] == "batchgate.access"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/jobs", 200)
    assert entry["seconds"] >= 0
    assert RFC3339_UTC.fullmatch(entry["ts"]), entry["ts"]


def test_it_logs_each_request_as_logfmt_by_default(
    server_process: Callable[..., ServerProcess],
) -> None:
    (line,) = _requests_logged(server_process())
    fields = dict(part.split("=", 1) for part in line.split())
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/jobs", "200")
    assert fields["level"] == "info"
    assert RFC3339_UTC.fullmatch(fields["ts"]), fields["ts"]


def test_concurrent_requests_each_get_a_whole_line(
    server_process: Callable[..., ServerProcess],
) -> None:
    """Lines of requests answered in one turn of the event loop are written together:
    none may be lost, cut or run into another."""
    server = server_process("--log-format", "json")

    def push(n: int) -> None:
        body = json.dumps({"job": f"concurrent_{n}", "event": "success"}).encode()
        request = urllib.request.Request(
            f"{server.url}/push", body, {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).read()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(push, range(64)))
    assert server.stop() == 0
    entries = [
        json.loads(line)
        for line in server.log.read_text().splitlines()
        if "batchgate.access" in line and "/push" in line
    ]
    assert len(entries) == 64
    assert {(e["method"], e["path"], e["status"]) for e in entries} == {("POST", "/push", 200)}


def test_pushes_are_logged_with_their_decoded_path(
    server_process: Callable[..., ServerProcess],
) -> None:
    """As aiohttp's `request.path` has it, whichever way the push was answered."""
    server = server_process("--log-format", "json")
    for path in ("/metrics/job/caf%C3%A9/instance/a%20b", "/metrics/job/plain"):
        request = urllib.request.Request(f"{server.url}{path}", b"x 1\n", method="PUT")
        assert urllib.request.urlopen(request, timeout=10).status == 200
    assert server.stop() == 0
    paths = [
        entry["path"]
        for entry in map(json.loads, server.log.read_text().splitlines())
        if entry.get("logger") == "batchgate.access" and entry["method"] == "PUT"
    ]
    assert paths == ["/metrics/job/café/instance/a b", "/metrics/job/plain"]


def test_a_higher_log_level_turns_the_access_log_off(
    server_process: Callable[..., ServerProcess],
) -> None:
    assert _requests_logged(server_process("--log-level", "warning")) == []


def test_logfmt_quotes_what_would_break_a_line() -> None:
    record = logging.LogRecord(
        "batchgate", logging.WARNING, __file__, 1, 'job "a b" said x=1\nthen c:\\tmp', (), None
    )
    record.job = "plain_name"
    record.path = "/a b"
    line = LogfmtFormatter().format(record)
    assert "\n" not in line
    assert " job=plain_name " in line
    assert ' path="/a b"' in line
    assert ' msg="job \\"a b\\" said x=1\\nthen c:\\\\tmp"' in line
