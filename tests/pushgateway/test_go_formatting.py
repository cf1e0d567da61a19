"""Numbers and strings come out as Go prints them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.pushgateway.goformat import (
    format_go_value,
    format_sample_value,
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
