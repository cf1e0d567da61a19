"""The text parser's two tiers agree, and it fails only with its own errors."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgate.collector.pushgateway import BodyParseError, parse_text
from batchgate.collector.pushgateway.text_parser import parse_text_exactly

names = st.sampled_from(["a", "a_count", "a_sum", "a_bucket", "b", "b_total", "_x:y", "1a", ""])
label_names = st.sampled_from(["le", "quantile", "k", "__name__", "__x", "k2", "", "9"])
label_values = st.text(alphabet=st.sampled_from('ab "\\n\n\t{}=,é\u2028'), max_size=6)
values = st.sampled_from(
    ["1", "-0", "0.5", "1e3", "+Inf", "-inf", "NaN", "nan", "1_0", "0x1p3", "1e400", "x", "", ".5"]
)
blanks = st.sampled_from(["", " ", "  ", "\t"])
types = st.sampled_from(["counter", "gauge", "histogram", "summary", "untyped", "GAUGE", "x", ""])


@st.composite
def sample_lines(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.tuples(label_names, label_values), max_size=3))
    rendered = ",".join(f'{name}{draw(blanks)}={draw(blanks)}"{value}"' for name, value in labels)
    if draw(st.booleans()):
        rendered += draw(st.sampled_from(["", ","]))
    with_braces: bool = bool(labels) or draw(st.booleans())
    braces = "{" + rendered + "}" if with_braces else ""
    timestamp = draw(st.sampled_from(["", " 123", " x", " 1 2"]))
    return (
        f"{draw(blanks)}{draw(names)}{draw(blanks)}{braces}{draw(blanks)}{draw(values)}{timestamp}"
    )


@st.composite
def comment_lines(draw: st.DrawFn) -> str:
    keyword = draw(st.sampled_from(["HELP", "TYPE", "other", ""]))
    rest = draw(types) if keyword == "TYPE" else draw(label_values)
    return f"#{draw(blanks)}{keyword}{draw(blanks)}{draw(names)}{draw(blanks)}{rest}"


bodies = st.lists(st.one_of(sample_lines(), comment_lines(), st.just("")), max_size=8).map(
    lambda lines: "\n".join(lines)
) | st.lists(st.one_of(sample_lines(), comment_lines()), max_size=8).map(
    lambda lines: "".join(line + "\n" for line in lines)
)


valid_names = st.sampled_from(["a", "a_count", "a_sum", "a_bucket", "b", "b_total"])
valid_labels = st.sampled_from(["le", "quantile", "k", "k2"])
valid_values = st.sampled_from(["1", "-0", "0.5", "1e3", "+Inf", "NaN", "7"])


@st.composite
def valid_lines(draw: st.DrawFn) -> str:
    """Lines expfmt mostly accepts, so that both tiers assemble histograms and summaries."""
    if draw(st.integers(0, 4)) == 0:
        keyword = draw(st.sampled_from(["HELP", "TYPE"]))
        rest = draw(types) if keyword == "TYPE" else draw(label_values).replace("\\", "")
        return f"# {keyword} {draw(valid_names)} {rest}"
    labels = draw(st.dictionaries(valid_labels, valid_values, max_size=3))
    rendered = ",".join(f'{name}="{value}"' for name, value in labels.items())
    braces = "{" + rendered + "}" if labels else ""
    return f"{draw(valid_names)}{braces} {draw(valid_values)}"


valid_bodies = st.lists(valid_lines(), max_size=12).map(
    lambda lines: "".join(line + "\n" for line in lines)
)


def outcome(parse: object, body: bytes) -> str:
    try:
        return repr(parse(body))  # type: ignore[operator]
    except BodyParseError as error:
        return "error: " + error.message


@settings(max_examples=1500, deadline=None)
@given(bodies | valid_bodies)
def test_it_parses_with_the_fast_tier_exactly_what_the_exact_tier_parses(body: str) -> None:
    data = body.encode("utf-8")
    assert outcome(parse_text, data) == outcome(parse_text_exactly, data)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=200) | bodies.map(lambda body: body.encode("utf-8")))
def test_it_fails_only_with_its_own_error(body: bytes) -> None:
    with contextlib.suppress(BodyParseError):
        parse_text(body)
