"""Numbers and strings come out as Go prints them."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchgate.collector.pushgateway.goformat import (
    canonical_value,
    format_go_value,
    format_sample_value,
    format_sample_values,
    format_shortest,
    go_quote,
    go_quote_byte,
    go_uint64,
    parse_go_float,
    proto_text_quote,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (2.5, "2.5"),
        (100000.0, "100000"),
        (1234567.0, "1.234567e+06"),
        (123456789012.0, "1.23456789012e+11"),
        (1795343029.3232403, "1.7953430293232403e+09"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (5e-324, "5e-324"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_sample_values_are_written_as_the_text_encoder_writes_them(value: float, text: str) -> None:
    assert format_sample_value(value) == text


def test_fmt_sprint_keeps_the_sign_of_zero() -> None:
    assert (format_go_value(-0.0), format_go_value(0.0)) == ("-0", "0")


@given(st.lists(st.floats() | st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6).map(float)))
def test_values_written_in_bulk_are_written_as_one_by_one(values: list[float]) -> None:
    assert format_sample_values(values) == [format_sample_value(value) for value in values]


def test_values_in_bulk_keep_the_go_forms_at_the_edges() -> None:
    values = [0.0, -0.0, 999_999.0, 999_999.5, -999_999.0, 1e6, 0.0001, 1e-05, 5e-324, 2.5]
    assert format_sample_values(values) == [format_sample_value(value) for value in values]
    assert format_sample_values([1.0, 2.0, 0.5]) == ["1", "2", "0.5"]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_shortest_form_reads_back_as_the_same_float(value: float) -> None:
    assert float(format_sample_value(value)) == value


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("1", 1.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+5", 5.0),
        ("1e3", 1000.0),
        ("Inf", math.inf),
        ("-infinity", -math.inf),
        ("1e-400", 0.0),
    ],
)
def test_it_reads_what_strconv_reads(token: str, value: float) -> None:
    assert parse_go_float(token) == value


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    r"|[nN][aA][nN]"
)
"""strconv.ParseFloat's decimal syntax, as a regular expression."""


@given(st.text("0123456789.eE+-_ infINFaAtyYx", max_size=8))
def test_it_reads_exactly_what_the_syntax_allows(token: str) -> None:
    value = parse_go_float(token)
    if _GO_FLOAT.fullmatch(token) is None:
        assert value is None
    elif token.lower().endswith("nan"):
        assert value is not None
        assert math.isnan(value)
    elif not math.isinf(float(token)) or token.strip("+-").lower().startswith("inf"):
        assert value == float(token)
    else:
        assert value is None  # Out of range: Go's ErrRange.


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**8), 10**8).map(float))
def test_the_exponent_form_starts_where_go_s_does(value: float) -> None:
    text = format_sample_value(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
        assert "e" in text
    else:
        assert text == ("0" if value == 0 else repr(value).removesuffix(".0"))


@pytest.mark.parametrize(
    "token", ["1_0", "0x10", "0x1p3", "1e400", "+nan", " 1", "1\r", "\u0661", "", "inf1"]
)
def test_it_refuses_what_strconv_refuses(token: str) -> None:
    assert parse_go_float(token) is None


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (2.7, 2),
        (-1.0, 2**64 - 1),
        (math.nan, 2**63),
        (1e30, 2**63),
        (1.9e19, 2**63),
        (1e19, 10**19),
        (-1e30, 2**63),
    ],
)
def test_counts_convert_like_go_on_amd64(value: float, count: int) -> None:
    assert go_uint64(value) == count


def test_strings_are_quoted_like_percent_q() -> None:
    assert go_quote('a"b\\c\n\t\x00é\u2028\udcff') == '"a\\"b\\\\c\\n\\t\\x00é\\u2028\\xff"'
    assert go_quote_byte(ord("}")) == "'}'"
    assert go_quote_byte(0xC3) == "'Ã'"
    assert go_quote_byte(ord("'")) == "'\\''"


def test_protobuf_text_quotes_bytes_in_octal() -> None:
    assert proto_text_quote('\n\t"é\udcff') == '"\\n\\t\\"\\303\\251\\377"'


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_value_written_as_go_writes_it_is_taken_as_it_is(value: float) -> None:
    """The same-shape path keeps a pushed value's text when it is already Go's; that text
    must then be exactly what parsing and writing it would give."""
    written = format_sample_value(value)
    kept = canonical_value(written.encode())
    assert kept is None or kept == written


@given(st.from_regex(rb"\A-?[0-9]{1,8}(\.[0-9]{1,9})?\Z"))
def test_a_plain_decimal_is_kept_only_if_go_would_write_it_so(token: bytes) -> None:
    kept = canonical_value(token)
    value = parse_go_float(token.decode())
    assert value is not None
    written = format_sample_value(value)
    assert kept is None or kept == written
    if written == token.decode() and len(token) <= 15:
        assert kept == written  # every short value Go writes plainly is recognised


@pytest.mark.parametrize(
    "token", [b"-0", b"1.50", b"007", b"1e3", b"+1", b"1000000", b"0.00001", b".5", b"1.", b"NaN"]
)
def test_values_go_writes_otherwise_are_not_kept(token: bytes) -> None:
    assert canonical_value(token) is None


def test_integers_below_a_million_take_the_short_way_to_the_same_text() -> None:
    """format_sample_value writes them with str(int(...)): what Go's shortest 'g' writes
    (from seven digits on it writes an exponent, and so does the long way)."""
    edges = [*range(-1_000_010, -999_990), *range(-20, 20), *range(999_990, 1_000_010)]
    chooser = random.Random(6)
    for number in edges + [chooser.randint(-999_999, 999_999) for _ in range(10_000)]:
        if number:
            assert format_sample_value(float(number)) == format_shortest(float(number))
