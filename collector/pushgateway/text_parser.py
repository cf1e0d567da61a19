"""The text exposition format 0.0.4, parsed exactly as the Pushgateway's expfmt.TextParser does.

Two tiers share one set of family state. Well-formed lines of the usual shape (`name{a="b"}
value`, `# HELP`, `# TYPE`) go through a regular expression and are applied only once they are
known to be valid. Every other line, including every line with an error, is replayed byte by
byte through a port of expfmt's state machine, so that what is accepted, how histograms and
summaries are assembled, and the first error with its line number are all expfmt's. A
property test holds the two tiers to the same results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Final

from collector.pushgateway.errors import BodyParseError, TextParseError
from collector.pushgateway.goformat import (
    go_char,
    go_quote,
    go_quote_byte,
    go_uint64,
    parse_go_float,
    parse_go_int64,
)
from collector.pushgateway.model import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    TYPE_NAMES,
    UNTYPED,
    Bucket,
    Histogram,
    Metric,
    MetricFamily,
    Quantile,
    Summary,
    Value,
)

_TYPES_BY_UPPER_NAME: Final = {name: number for number, name in TYPE_NAMES.items()}

_LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
_LABEL_PAIR = r"[a-zA-Z_][a-zA-Z0-9_]*=" + _LABEL_VALUE
_SAMPLE_LINE = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{((?:" + _LABEL_PAIR + r"(?:," + _LABEL_PAIR + r")*,?)?)\})?"
    r" ([^ \t]+)"
)
_LABEL_PAIRS = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_LABEL_ESCAPES = re.compile(r"\\(.)")
_COMMENT_KEYWORD = re.compile(r"#[ \t]*([^ \t]*)")
_HELP_OR_TYPE_LINE = re.compile(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ([^ \t].*)")
_HELP_ESCAPES = re.compile(r"\\(.?)")
_BLANK: Final = frozenset(b" \t")
_NEWLINE: Final = 0x0A


def _unescape_label_value(match: re.Match[str]) -> str:
    char = match.group(1)
    return "\n" if char == "n" else char


class _Invalid(Exception):
    """Raised inside the fast tier: the line needs the faithful tier (to accept or to fail)."""


class TextParser:
    """One parse of one body. Use `parse_text`."""

    def __init__(self) -> None:
        self.families: dict[str, MetricFamily] = {}
        # expfmt's LabelsToSignature includes the family name (`__name__`).
        self.summaries: dict[tuple[str, tuple[tuple[str, str], ...]], Metric] = {}
        self.histograms: dict[tuple[str, tuple[tuple[str, str], ...]], Metric] = {}

    # Family lookup, shared by both tiers: expfmt's setOrCreateCurrentMF.

    def find_family(self, name: str) -> tuple[MetricFamily | None, bool, bool]:
        """The family a line named `name` belongs to, and whether it is a `_count` / `_sum`."""
        family = self.families.get(name)
        if family is not None:
            return family, False, False
        is_count = len(name) > 6 and name.endswith("_count")
        is_sum = len(name) > 4 and name.endswith("_sum")
        if is_count or is_sum:
            base = name[:-6] if is_count else name[:-4]
            family = self.families.get(base)
            if family is not None and family.type in (SUMMARY, HISTOGRAM):
                return family, is_count, is_sum
        elif len(name) > 7 and name.endswith("_bucket"):
            family = self.families.get(name[:-7])
            if family is not None and family.type == HISTOGRAM:
                return family, False, False
        return None, False, False

    def family_for(self, name: str) -> tuple[MetricFamily, bool, bool]:
        family, is_count, is_sum = self.find_family(name)
        if family is None:
            family = MetricFamily(name)
            self.families[name] = family
        return family, is_count, is_sum

    # The fast tier.

    def parse_line_fast(self, line: str) -> bool:
        """Apply a well-formed line; False (nothing changed) if it needs the faithful tier."""
        first = line[0]
        if first == "#":
            return self._comment_fast(line)
        if first == " " or first == "\t":
            return False
        match = _SAMPLE_LINE.fullmatch(line)
        if match is None:
            return False
        name, labels_text, value_text = match.groups()
        value = parse_go_float(value_text)
        if value is None:
            return False
        family, is_count, is_sum = self.find_family(name)
        family_type = UNTYPED if family is None or family.type is None else family.type
        pairs: list[tuple[str, str]] = []
        quantile = math.nan
        bucket = math.nan
        if labels_text:
            try:
                pairs, quantile, bucket = _fast_labels(labels_text, family_type)
            except _Invalid:
                return False
        if family is None:
            family = MetricFamily(name)
            self.families[name] = family
        if family.type is None:
            family.type = UNTYPED
        metric = Metric(pairs)
        self.add_sample(family, metric, is_count, is_sum, pairs, quantile, bucket, value)
        return True

    def _comment_fast(self, line: str) -> bool:
        match = _HELP_OR_TYPE_LINE.fullmatch(line)
        if match is None:
            keyword_match = _COMMENT_KEYWORD.match(line)
            assert keyword_match is not None  # It matches any line starting with '#'.
            # Any other comment is ignored up to the end of its (terminated) line.
            return keyword_match.group(1) not in ("HELP", "TYPE")
        keyword, name, text = match.groups()
        family, _, _ = self.family_for(name)
        if keyword == "HELP":
            if family.help is not None:
                return False
            if "\\" in text:
                if any(escape not in ("\\", "n") for escape in _HELP_ESCAPES.findall(text)):
                    return False
                text = _HELP_ESCAPES.sub(_unescape_label_value, text)
            family.help = text
            return True
        if family.type is not None:
            return False
        family_type = _TYPES_BY_UPPER_NAME.get(text.upper())
        if family_type is None:
            return False
        family.type = family_type
        return True

    # Where both tiers meet: expfmt's readingValue, once labels and value are known.

    def add_sample(
        self,
        family: MetricFamily,
        metric: Metric,
        is_count: bool,
        is_sum: bool,
        signature_labels: list[tuple[str, str]],
        quantile: float,
        bucket: float,
        value: float,
    ) -> Metric:
        family_type = family.type
        if family_type in (SUMMARY, HISTOGRAM):
            signature = (family.name, tuple(sorted(signature_labels)))
            known = self.summaries if family_type == SUMMARY else self.histograms
            existing = known.get(signature)
            if existing is None:
                known[signature] = metric
                family.metrics.append(metric)
            else:
                metric = existing
            if family_type == SUMMARY:
                summary = metric.summary
                if summary is None:
                    summary = metric.summary = Summary()
                if is_count:
                    summary.sample_count = go_uint64(value)
                elif is_sum:
                    summary.sample_sum = value
                elif quantile == quantile:
                    summary.quantiles.append(Quantile(quantile, value))
            else:
                histogram = metric.histogram
                if histogram is None:
                    histogram = metric.histogram = Histogram()
                if is_count:
                    histogram.sample_count = go_uint64(value)
                elif is_sum:
                    histogram.sample_sum = value
                elif bucket == bucket:
                    histogram.buckets.append(Bucket(go_uint64(value), None, bucket))
            return metric
        family.metrics.append(metric)
        if family_type == COUNTER:
            metric.counter = Value(value)
        elif family_type == GAUGE:
            metric.gauge = Value(value)
        else:
            metric.untyped = Value(value)
        return metric


def _fast_labels(labels_text: str, family_type: int) -> tuple[list[tuple[str, str]], float, float]:
    """Label pairs of a syntactically valid label set, or _Invalid for anything expfmt refuses."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    quantile = math.nan
    bucket = math.nan
    for name, raw_value in _LABEL_PAIRS.findall(labels_text):
        value = (
            _LABEL_ESCAPES.sub(_unescape_label_value, raw_value) if "\\" in raw_value else raw_value
        )
        if name == "__name__":
            raise _Invalid
        if family_type == SUMMARY and name == "quantile":
            parsed = parse_go_float(value)
            if parsed is None:
                raise _Invalid
            quantile = parsed
            continue
        if family_type == HISTOGRAM and name == "le":
            parsed = parse_go_float(value)
            if parsed is None:
                raise _Invalid
            bucket = parsed
            continue
        if name in seen:
            raise _Invalid
        seen.add(name)
        pairs.append((name, value))
    return pairs, quantile, bucket


class _ExactLine:
    """expfmt's state machine run over one line (as bytes), sharing the parser's families.

    Each method is one of expfmt's states and returns the next; None ends the line, with
    `error` set if it failed. Reading past the end of an unterminated last line is expfmt's
    "unexpected end of input stream".
    """

    def __init__(self, parser: TextParser, data: bytes, line_number: int) -> None:
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
        family_type = _TYPES_BY_UPPER_NAME.get(text.upper())
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


def parse_text(body: bytes, stream_error: str | None = None) -> dict[str, MetricFamily]:
    """The metric families in `body`, keyed by name, or TextParseError with expfmt's message.

    Families that end up without samples (HELP or TYPE only) are left out, as expfmt does.
    `stream_error` is a read error that followed `body` (a broken gzip stream): like the
    Pushgateway 1.5, it is ignored at the start of a line and reported inside one.
    """
    parser = TextParser()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8 somewhere: every line goes through the byte-exact tier.
        raw_lines = body.split(b"\n")
        last = len(raw_lines) - 1
        for index, raw in enumerate(raw_lines):
            if raw:
                _run_exact(parser, raw, index, last, stream_error)
    else:
        lines = text.split("\n")
        last = len(lines) - 1
        for index, line in enumerate(lines):
            if line and (index == last or not parser.parse_line_fast(line)):
                _run_exact(parser, line.encode("utf-8"), index, last, stream_error)
    return {name: family for name, family in parser.families.items() if family.metrics}


def _run_exact(
    parser: TextParser, raw: bytes, index: int, last: int, stream_error: str | None
) -> None:
    if index < last:
        _ExactLine(parser, raw + b"\n", index + 1).run()
    else:
        _ExactLine(parser, raw, index + 1).run(stream_error)


def parse_text_exactly(body: bytes) -> dict[str, MetricFamily]:
    """`parse_text` with every line through the byte-exact tier: the reference the fast tier
    is held to (in tests), and a way to check a body when in doubt."""
    parser = TextParser()
    raw_lines = body.split(b"\n")
    last = len(raw_lines) - 1
    for index, raw in enumerate(raw_lines):
        if raw:
            _run_exact(parser, raw, index, last, None)
    return {name: family for name, family in parser.families.items() if family.metrics}
