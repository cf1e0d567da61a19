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
from dataclasses import dataclass

from batchgate.collector.pushgateway.expfmt_state_machine import TYPES_BY_UPPER_NAME, ExactLine
from batchgate.collector.pushgateway.goformat import (
    parse_go_float,
)
from batchgate.collector.pushgateway.model import (
    HISTOGRAM,
    SUMMARY,
    UNTYPED,
    Metric,
    MetricFamily,
)
from batchgate.collector.pushgateway.text_families import ParsedFamilies

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


def _unescape_label_value(match: re.Match[str]) -> str:
    char = match.group(1)
    return "\n" if char == "n" else char


class _Invalid(Exception):
    """Raised inside the fast tier: the line needs the faithful tier (to accept or to fail)."""


class TextParser(ParsedFamilies):
    """One parse of one body. Use `parse_text`."""

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
        family_type = TYPES_BY_UPPER_NAME.get(text.upper())
        if family_type is None:
            return False
        family.type = family_type
        return True


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


def parse_text(body: bytes, stream_error: str | None = None) -> dict[str, MetricFamily]:
    """The metric families in `body`, keyed by name, or TextParseError with expfmt's message.

    Families that end up without samples (HELP or TYPE only) are left out, as expfmt does.
    `stream_error` is a read error that followed `body` (a broken gzip stream): like the
    Pushgateway 1.5, it is ignored at the start of a line and reported inside one.
    """
    return read_text(body, stream_error).families


@dataclass(slots=True)
class TextBody:
    """A parsed text body: its families, and how it was read."""

    families: dict[str, MetricFamily]
    fast_only: bool
    """Every line was read by the fast tier: each line that does not start with `#` and is
    not empty is a sample line `name{labels} value` with nothing after the value."""


def read_text(body: bytes, stream_error: str | None = None) -> TextBody:
    """`parse_text`, also saying whether the fast tier read every line."""
    parser = TextParser()
    fast_only = True
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8 somewhere: every line goes through the byte-exact tier.
        fast_only = False
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
                fast_only = False
                _run_exact(parser, line.encode("utf-8"), index, last, stream_error)
    families = {name: family for name, family in parser.families.items() if family.metrics}
    return TextBody(families, fast_only)


def _run_exact(
    parser: TextParser, raw: bytes, index: int, last: int, stream_error: str | None
) -> None:
    if index < last:
        ExactLine(parser, raw + b"\n", index + 1).run()
    else:
        ExactLine(parser, raw, index + 1).run(stream_error)


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
