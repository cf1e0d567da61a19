"""Log output as logfmt (default) or JSON lines, on stderr."""

from __future__ import annotations

import json
import logging
import sys
import time
import time as _time
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _timestamp(record: logging.LogRecord) -> str:
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{base}.{int(record.msecs):03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\n\\'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


def setup_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class AccessLogger(AbstractAccessLogger):
    """One line per request, formatted here and written straight to stderr: the access log
    sits on the hot path, and going through `logging` would cost a third of a push.

    aiohttp hands the server's `access_log_format` to the constructor; batchgate passes its
    log format there (`logfmt` or `json`).
    """

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        self._json = log_format == "json"

    @property
    def enabled(self) -> bool:
        """Requests are logged at info: a higher log level turns the access log off."""
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        now = _time.time()
        fields = {
            "ts": _timestamp_now(now),
            "level": "info",
            "logger": "batchgate.access",
            "msg": "request",
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "bytes": response.body_length,
            "seconds": round(time, 6),
            "remote": request.remote,
        }
        if self._json:
            line = json.dumps(fields)
        else:
            line = (
                f"ts={fields['ts']} level=info logger=batchgate.access msg=request "
                f"method={request.method} path={_logfmt_value(request.path)} "
                f"status={response.status} bytes={response.body_length} "
                f"seconds={fields['seconds']} remote={_logfmt_value(request.remote)}"
            )
        sys.stderr.write(line + "\n")


_second_cache: tuple[int, str] = (0, "")


def _timestamp_now(now: float) -> str:
    """RFC 3339 with milliseconds; the seconds part is formatted once per second."""
    global _second_cache
    second = int(now)
    if _second_cache[0] != second:
        _second_cache = (second, _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second)))
    return f"{_second_cache[1]}.{int((now - second) * 1000):03d}Z"
