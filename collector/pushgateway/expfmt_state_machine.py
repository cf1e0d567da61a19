"""expfmt's text parser, ported state for state: the faithful tier of `text_parser`.

Each method of ExactLine is one state of expfmt's TextParser (the Pushgateway 1.5.1's
version) and returns the next; it reads one line as bytes, so that what is accepted, and the
first error with its exact words, are expfmt's: `%q` of a byte, escapes, blanks, a line cut
short ("unexpected end of input stream"). The fast tier hands it every line it is unsure of.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from batchgate.collector.pushgateway.errors import BodyParseError, TextParseError
from batchgate.collector.pushgateway.goformat import (
    go_char,
    go_quote,
    go_quote_byte,
    parse_go_float,
    parse_go_int64,
)
from batchgate.collector.pushgateway.model import (
    HISTOGRAM,
    SUMMARY,
    TYPE_NAMES,
    UNTYPED,
    Metric,
    MetricFamily,
)
from batchgate.collector.pushgateway.text_families import ParsedFamilies

TYPES_BY_UPPER_NAME: Final = {name: number for number, name in TYPE_NAMES.items()}
_BLANK: Final = frozenset(b" \t")
_NEWLINE: Final = 0x0A


class ExactLine:
    """expfmt's state machine run over one line (as bytes), sharing the parser's families.

    Each method is one of expfmt's states and returns the next; None ends the line, with
    `error` set if it failed. Reading past the end of an unterminated last line is expfmt's
    "unexpected end of input stream".
    """

    def __init__(self, parser: ParsedFamilies, data: bytes, line_number: int) -> None:
        self.parser = parser
        self.data = data
        self.position = 0
        self.line_number = line_number
        self.byte = 0
        self.eof = False
        self.error: str | None = None
        self.token = bytearray()
        self.family: MetricFamily | None = None
        self.metric = Metric()
        self.is_count = False
        self.is_sum = False
        self.label_name = ""
        self.label_index = -1
        self.label_pairs: list[tuple[str, str]] = []
        self.signature_labels: list[tuple[str, str]] = []
        self.quantile = math.nan
        self.bucket = math.nan

    def run(self, stream_error: str | None = None) -> None:
        state: Callable[[], object] | None = self.start_of_line
        while state is not None:
            state = state()  # type: ignore[assignment]
        if self.error is not None:
            raise TextParseError(self.line_number, self.error)
        if self.eof:
            if stream_error is not None:
                raise BodyParseError(stream_error)  # Go returns a read error as it is.
            raise TextParseError(self.line_number, "unexpected end of input stream")

    def read(self) -> bool:
        if self.position >= len(self.data):
            self.eof = True
            return False
        self.byte = self.data[self.position]
        self.position += 1
        return True

    def fail(self, message: str) -> None:
        self.error = message

    def skip_blank_tab(self) -> bool:
        while self.read():
            if self.byte not in _BLANK:
                return True
        return False

    def skip_blank_tab_if_current_blank_tab(self) -> bool:
        if self.byte in _BLANK:
            return self.skip_blank_tab()
        return True

    def read_token_until_whitespace(self) -> bool:
        self.token.clear()
        while self.byte not in _BLANK and self.byte != _NEWLINE:
            self.token.append(self.byte)
            if not self.read():
                return False
        return True

    def read_token_until_newline(self, recognize_escapes: bool) -> bool:
        self.token.clear()
        escaped = False
        while True:
            if recognize_escapes and escaped:
                if self.byte == 0x5C:
                    self.token.append(0x5C)
                elif self.byte == 0x6E:
                    self.token.append(_NEWLINE)
                else:
                    self.fail(f"invalid escape sequence '\\{go_char(self.byte)}'")
                    return False
                escaped = False
            elif self.byte == _NEWLINE:
                return True
            elif self.byte == 0x5C:
                escaped = True
            else:
                self.token.append(self.byte)
            if not self.read():
                return False

    def read_token_as_metric_name(self) -> bool:
        self.token.clear()
        if not _is_metric_name_start(self.byte):
            return True
        while True:
            self.token.append(self.byte)
            if not self.read():
                return False
            if not _is_metric_name_continuation(self.byte):
                return True

    def read_token_as_label_name(self) -> bool:
        self.token.clear()
        if not _is_label_name_start(self.byte):
            return True
        while True:
            self.token.append(self.byte)
            if not self.read():
                return False
            if not _is_label_name_continuation(self.byte):
                return True

    def read_token_as_label_value(self) -> bool:
        self.token.clear()
        escaped = False
        while True:
            if not self.read():
                return False
            if escaped:
                if self.byte in (0x22, 0x5C):
                    self.token.append(self.byte)
                elif self.byte == 0x6E:
                    self.token.append(_NEWLINE)
                else:
                    self.fail(f"invalid escape sequence '\\{go_char(self.byte)}'")
                    return False
                escaped = False
                continue
            if self.byte == 0x22:
                return True
            if self.byte == _NEWLINE:
                self.fail(f"label value {_quote_token(self.token)} contains unescaped new-line")
                return False
            if self.byte == 0x5C:
                escaped = True
            else:
                self.token.append(self.byte)

    def set_or_create_family(self) -> None:
        self.family, self.is_count, self.is_sum = self.parser.family_for(_token_text(self.token))

    # States.

    def start_of_line(self) -> Callable[[], object] | None:
        if not self.skip_blank_tab():
            self.eof = False  # A line of blanks at the very end is not an error.
            return None
        if self.byte == 0x23:
            return self.start_comment
        if self.byte == _NEWLINE:
            return None
        return self.reading_metric_name

    def start_comment(self) -> Callable[[], object] | None:
        if not self.skip_blank_tab():
            return None
        if self.byte == _NEWLINE:
            return None
        if not self.read_token_until_whitespace():
            return None
        if self.byte == _NEWLINE:
            return None
        keyword = bytes(self.token)
        if keyword not in (b"HELP", b"TYPE"):
            while self.byte != _NEWLINE:
                if not self.read():
                    return None
            return None
        if not self.skip_blank_tab():
            return None
        if not self.read_token_as_metric_name():
            return None
        if self.byte == _NEWLINE:
            return None
        if self.byte not in _BLANK:
            self.fail("invalid metric name in comment")
            return None
        self.set_or_create_family()
        if not self.skip_blank_tab():
            return None
        if self.byte == _NEWLINE:
            return None
        return self.reading_help if keyword == b"HELP" else self.reading_type

    def reading_metric_name(self) -> Callable[[], object] | None:
        if not self.read_token_as_metric_name():
            return None
        if not self.token:
            self.fail("invalid metric name")
            return None
        self.set_or_create_family()
        assert self.family is not None
        if self.family.type is None:
            self.family.type = UNTYPED
        self.metric = Metric()
        if not self.skip_blank_tab_if_current_blank_tab():
            return None
        return self.reading_labels

    def reading_labels(self) -> Callable[[], object] | None:
        assert self.family is not None
        if self.family.type in (SUMMARY, HISTOGRAM):
            self.signature_labels = []
            self.quantile = math.nan
            self.bucket = math.nan
        if self.byte != 0x7B:
            return self.reading_value
        return self.start_label_name

    def start_label_name(self) -> Callable[[], object] | None:
        assert self.family is not None
        if not self.skip_blank_tab():
            return None
        if self.byte == 0x7D:
            self.metric.labels.extend(self.label_pairs)
            self.label_pairs = []
            if not self.skip_blank_tab():
                return None
            return self.reading_value
        if not self.read_token_as_label_name():
            return None
        if not self.token:
            self.fail(f"invalid label name for metric {go_quote(self.family.name)}")
            return None
        if not self.skip_blank_tab_if_current_blank_tab():
            return None
        if self.byte != 0x3D:
            self.fail(f"expected '=' after label name, found {go_quote_byte(self.byte)}")
            return None
        self.label_name = _token_text(self.token)
        if self.label_name == "__name__":
            self.fail('label name "__name__" is reserved')
            return None
        family_type = self.family.type
        if not (family_type == SUMMARY and self.label_name == "quantile") and not (
            family_type == HISTOGRAM and self.label_name == "le"
        ):
            if any(name == self.label_name for name, _ in self.label_pairs):
                self.fail(f"duplicate label names for metric {go_quote(self.family.name)}")
                return None
            self.label_index = len(self.label_pairs)
            self.label_pairs.append((self.label_name, ""))
        else:
            self.label_index = -1
        return self.start_label_value

    def start_label_value(self) -> Callable[[], object] | None:
        assert self.family is not None
        if not self.skip_blank_tab():
            return None
        if self.byte != 0x22:
            self.fail(f"expected '\"' at start of label value, found {go_quote_byte(self.byte)}")
            return None
        if not self.read_token_as_label_value():
            return None
        try:
            value = bytes(self.token).decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"invalid label value {_quote_token(self.token)}")
            return None
        name = self.label_name
        if self.label_index >= 0:
            self.label_pairs[self.label_index] = (name, value)
        family_type = self.family.type
        if family_type == SUMMARY:
            if name == "quantile":
                parsed = parse_go_float(value)
                if parsed is None:
                    self.fail(
                        f"expected float as value for 'quantile' label, got {go_quote(value)}"
                    )
                    return None
                self.quantile = parsed
            else:
                self.signature_labels.append((name, value))
        if family_type == HISTOGRAM:
            if name == "le":
                parsed = parse_go_float(value)
                if parsed is None:
                    self.fail(f"expected float as value for 'le' label, got {go_quote(value)}")
                    return None
                self.bucket = parsed
            else:
                self.signature_labels.append((name, value))
        if not self.skip_blank_tab():
            return None
        if self.byte == 0x2C:
            return self.start_label_name
        if self.byte == 0x7D:
            self.metric.labels.extend(self.label_pairs)
            self.label_pairs = []
            if not self.skip_blank_tab():
                return None
            return self.reading_value
        self.fail(f"unexpected end of label value {go_quote(value)}")
        return None

    def reading_value(self) -> Callable[[], object] | None:
        assert self.family is not None
        if not self.read_token_until_whitespace():
            return None
        token = _token_text(self.token)
        value = parse_go_float(token) if token.isascii() else None
        if value is None:
            self.fail(f"expected float as value, got {_quote_token(self.token)}")
            return None
        self.metric = self.parser.add_sample(
            self.family,
            self.metric,
            self.is_count,
            self.is_sum,
            self.signature_labels,
            self.quantile,
            self.bucket,
            value,
        )
        if self.byte == _NEWLINE:
            return None
        return self.start_timestamp

    def start_timestamp(self) -> Callable[[], object] | None:
        if not self.skip_blank_tab():
            return None
        if not self.read_token_until_whitespace():
            return None
        timestamp = parse_go_int64(_token_text(self.token)) if self.token.isascii() else None
        if timestamp is None:
            self.fail(f"expected integer as timestamp, got {_quote_token(self.token)}")
            return None
        self.metric.timestamp_ms = timestamp
        if not self.read_token_until_newline(False):
            return None
        if self.token:
            self.fail(f"spurious string after timestamp: {_quote_token(self.token)}")
            return None
        return None

    def reading_help(self) -> Callable[[], object] | None:
        assert self.family is not None
        if self.family.help is not None:
            self.fail(f"second HELP line for metric name {go_quote(self.family.name)}")
            return None
        if not self.read_token_until_newline(True):
            return None
        # HELP is not checked for UTF-8 by expfmt; invalid bytes become U+FFFD here.
        self.family.help = bytes(self.token).decode("utf-8", "replace")
        return None

    def reading_type(self) -> Callable[[], object] | None:
        assert self.family is not None
        if self.family.type is not None:
            self.fail(
                f"second TYPE line for metric name {go_quote(self.family.name)}, "
                "or TYPE reported after samples"
            )
            return None
        if not self.read_token_until_newline(False):
            return None
        text = _token_text(self.token)
        family_type = TYPES_BY_UPPER_NAME.get(text.upper())
        if family_type is None:
            self.fail(f"unknown metric type {go_quote(text)}")
            return None
        self.family.type = family_type
        return None


def _is_label_name_start(byte: int) -> bool:
    return 0x61 <= byte <= 0x7A or 0x41 <= byte <= 0x5A or byte == 0x5F


def _is_label_name_continuation(byte: int) -> bool:
    return _is_label_name_start(byte) or 0x30 <= byte <= 0x39


def _is_metric_name_start(byte: int) -> bool:
    return _is_label_name_start(byte) or byte == 0x3A


def _is_metric_name_continuation(byte: int) -> bool:
    return _is_label_name_continuation(byte) or byte == 0x3A


def _token_text(token: bytearray) -> str:
    return bytes(token).decode("utf-8", "surrogateescape")


def _quote_token(token: bytearray) -> str:
    return go_quote(_token_text(token))
