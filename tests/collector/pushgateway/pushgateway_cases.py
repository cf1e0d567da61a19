"""What the Pushgateway 1.5.1 answers to pushes it refuses, recorded from the Debian binary.

Each case is a list of steps applied to an empty store; every step gives the status and body
text (without http.Error's trailing newline) the Pushgateway answered. batchgate must answer
the same (`test_it_answers_the_recorded_errors`), and the recording is checked against the
real binary when it is installed (`test_against_real_pushgateway`). Where the Pushgateway's
answer depends on Go's random map order, `alternatives` lists every answer it may give;
batchgate's deterministic answer is `message`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchgate.collector.pushgateway.delimited_protobuf import CONTENT_TYPE as PROTOBUF

INCONSISTENT = "pushed metrics are invalid or inconsistent with existing metrics: "


@dataclass(frozen=True)
class Step:
    path: str
    body: bytes
    status: int = 200
    message: str = ""
    method: str = "PUT"
    content_type: str | None = None
    gzipped: bool = False
    alternatives: tuple[str, ...] = field(default=())


def parse_error(line: int, reason: str) -> Step:
    return Step("job/p", b"", 400, f"text format parsing error in line {line}: {reason}")


def text_error(body: bytes, line: int, reason: str) -> list[Step]:
    return [Step("job/p", body, 400, f"text format parsing error in line {line}: {reason}")]


def metric_error(name: str, labels: str, value: str, reason: str) -> str:
    return f'{INCONSISTENT}collected metric "{name}" {{ {labels}{value}}} {reason}'


JOB_P = 'label:<name:"instance" value:"" > label:<name:"job" value:"p" > '

CASES: dict[str, list[Step]] = {
    # Grouping keys.
    "odd number of components": [
        Step("job/a/b", b"foo 1\n", 400, 'odd number of components in label string "/b"')
    ],
    "odd number with trailing slash": [
        Step("job/a/b/c/", b"foo 1\n", 400, 'odd number of components in label string "/b/c/"')
    ],
    "percent-encoded slash splits": [
        Step("job/a/x/a%2Fb", b"foo 1\n", 400, 'odd number of components in label string "/x/a/b"')
    ],
    "reserved label name": [Step("job/a/__x/c", b"foo 1\n", 400, 'improper label name "__x"')],
    "invalid label name": [Step("job/a/1x/c", b"foo 1\n", 400, 'improper label name "1x"')],
    "non-ASCII label name": [Step("job/a/%C3%A9/x", b"foo 1\n", 400, 'improper label name "é"')],
    "double base64 suffix": [
        Step("job/a/x@base64@base64/_w", b"foo 1\n", 400, 'improper label name "x@base64"')
    ],
    "empty label name": [Step("job/a/@base64/_w", b"foo 1\n", 400, 'improper label name ""')],
    "bad base64 label value": [
        Step(
            "job/a/x@base64/c=d",
            b"foo 1\n",
            400,
            'invalid base64 encoding for label x="c=d": illegal base64 data at input byte 1',
        )
    ],
    "base64 label value with a lone char": [
        Step(
            "job/a/x@base64/YWJjZ",
            b"foo 1\n",
            400,
            'invalid base64 encoding for label x="YWJjZ": illegal base64 data at input byte 4',
        )
    ],
    "standard base64 alphabet": [
        Step(
            "job/a/x@base64/YW+j",
            b"foo 1\n",
            400,
            'invalid base64 encoding for label x="YW+j": illegal base64 data at input byte 2',
        )
    ],
    "empty job in base64": [Step("job@base64/=", b"foo 1\n", 400, "job name is required")],
    "base64 label value that is not UTF-8": [
        Step(
            "job/a/x@base64/_w",
            b"foo 1\n",
            400,
            INCONSISTENT
            + "3 error(s) occurred:\n"
            + '* collected metric "foo" { label:<name:"instance" value:"" > label:<name:"job" '
            'value:"a" > label:<name:"x" value:"\\377" > untyped:<value:1 > } has a label '
            'named "x" whose value is not utf8: "\\xff"\n'
            + '* collected metric "push_time_seconds" { label:<name:"instance" value:"" > '
            'label:<name:"job" value:"a" > label:<name:"x" value:"\\377" > gauge:<value:NOW > '
            '} has a label named "x" whose value is not utf8: "\\xff"\n'
            + '* collected metric "push_failure_time_seconds" { label:<name:"instance" value:"" '
            '> label:<name:"job" value:"a" > label:<name:"x" value:"\\377" > gauge:<value:0 > } '
            'has a label named "x" whose value is not utf8: "\\xff"',
        )
    ],
    # Text format.
    "timestamp": [
        Step("job/p", b"foo 1 123\n", 400, INCONSISTENT + "pushed metrics must not have timestamps")
    ],
    "bad timestamp": text_error(b"foo 1 abc\n", 1, 'expected integer as timestamp, got "abc"'),
    "spurious string after timestamp": text_error(
        b"foo 1 123 x\n", 1, 'spurious string after timestamp: " x"'
    ),
    "bad value": text_error(b"foo abc\n", 1, 'expected float as value, got "abc"'),
    "no value": text_error(b"foo\n", 1, 'expected float as value, got ""'),
    "no newline": text_error(b"foo 1", 1, "unexpected end of input stream"),
    "no newline on line 2": text_error(b"foo 1\nbar", 2, "unexpected end of input stream"),
    "empty label name in text": text_error(b"foo{,} 1\n", 1, 'invalid label name for metric "foo"'),
    "label without value": text_error(b"foo{a} 1\n", 1, "expected '=' after label name, found '}'"),
    "unquoted label value": text_error(
        b"foo{a=b} 1\n", 1, "expected '\"' at start of label value, found 'b'"
    ),
    "unterminated label value": text_error(
        b'foo{a="b} 1\n', 1, 'label value "b} 1" contains unescaped new-line'
    ),
    "invalid escape in label value": text_error(
        b'foo{a="b\\x"} 1\n', 1, "invalid escape sequence '\\x'"
    ),
    "__name__ label": text_error(b'foo{__name__="x"} 1\n', 1, 'label name "__name__" is reserved'),
    "duplicate label": text_error(
        b'foo{a="1",a="2"} 1\n', 1, 'duplicate label names for metric "foo"'
    ),
    "labels without name": text_error(b'{a="b"} 1\n', 1, "invalid metric name"),
    "name starting with a digit": text_error(b"1foo 1\n", 1, "invalid metric name"),
    "dash in name": text_error(b"foo-bar 1\n", 1, 'expected float as value, got "-bar"'),
    "underscore in value": text_error(b"foo 1_0\n", 1, 'expected float as value, got "1_0"'),
    "hex value": text_error(b"foo 0x10\n", 1, 'expected float as value, got "0x10"'),
    "value out of range": text_error(b"foo 1e400\n", 1, 'expected float as value, got "1e400"'),
    "trailing blank": text_error(b"foo 1 \n", 1, 'expected integer as timestamp, got ""'),
    "carriage return": text_error(b"foo 1\r\n", 1, 'expected float as value, got "1\\r"'),
    "escaped quote in HELP": text_error(
        b'# HELP foo a\\"b\nfoo 1\n', 1, "invalid escape sequence '\\\"'"
    ),
    "second HELP": text_error(
        b"# HELP foo x\n# HELP foo y\nfoo 1\n", 2, 'second HELP line for metric name "foo"'
    ),
    "TYPE after samples": text_error(
        b"foo 1\n# TYPE foo gauge\n",
        2,
        'second TYPE line for metric name "foo", or TYPE reported after samples',
    ),
    "TYPE of a summary's _count": text_error(
        b"# TYPE s summary\ns_count 4\n# TYPE s_count gauge\n",
        3,
        'second TYPE line for metric name "s", or TYPE reported after samples',
    ),
    "unknown type": text_error(
        b"# TYPE foo histogramm\nfoo 1\n", 1, 'unknown metric type "histogramm"'
    ),
    "bad name in comment": text_error(b"# TYPE foo-x gauge\n", 1, "invalid metric name in comment"),
    "bad le": text_error(
        b'# TYPE h histogram\nh_bucket{le="abc"} 1\n',
        2,
        "expected float as value for 'le' label, got \"abc\"",
    ),
    "bad quantile": text_error(
        b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum{quantile="x"} 3\n',
        3,
        "expected float as value for 'quantile' label, got \"x\"",
    ),
    "__ label in text": [
        Step(
            "job/p",
            b'foo{__x="x"} 1\n',
            400,
            metric_error(
                "foo",
                'label:<name:"__x" value:"x" > ' + JOB_P,
                "untyped:<value:1 > ",
                "has a label with an invalid name: __x",
            ),
        )
    ],
    "same series twice": [
        Step(
            "job/p",
            b"foo 1\nfoo 2\n",
            400,
            metric_error(
                "foo",
                JOB_P,
                "untyped:<value:2 > ",
                "was collected before with the same name and label values",
            ),
        )
    ],
    # Delimited protobuf.
    "protobuf: truncated message": [
        Step("job/p", b"\x05\x0a\x01", 400, "unexpected EOF", content_type=PROTOBUF)
    ],
    "protobuf: long length prefix": [
        Step(
            "job/p",
            b"\xff\xff\xff\xff\xff\x01",
            400,
            "invalid varint32 encountered",
            content_type=PROTOBUF,
        )
    ],
    "protobuf: field past the end": [
        Step("job/p", b"\x02\x0a\x05", 400, "unexpected EOF", content_type=PROTOBUF)
    ],
    "protobuf: tag 0": [
        Step(
            "job/p",
            b"\x02\x00\x00",
            400,
            "proto: io_prometheus_client.MetricFamily: illegal tag 0 (wire type 0)",
            content_type=PROTOBUF,
        )
    ],
    "protobuf: reserved wire type": [
        Step(
            "job/p",
            b"\x02\x0e\x00",
            400,
            "proto: can't skip unknown wire type 6",
            content_type=PROTOBUF,
        )
    ],
    "protobuf: stray end group": [
        Step(
            "job/p",
            b"\x01\x0c",
            400,
            "proto: can't skip unknown wire type 4",
            content_type=PROTOBUF,
        )
    ],
    "protobuf: truncated group": [
        Step("job/p", b"\x05\x0b\x08\x01\x0c\x08", 400, "unexpected EOF", content_type=PROTOBUF)
    ],
    "protobuf: 11-byte varint": [
        Step(
            "job/p",
            b"\x0e\x0a\x01g\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            400,
            "unexpected EOF",
            content_type=PROTOBUF,
        )
    ],
    "protobuf: tag 0 in a metric": [
        Step(
            "job/p",
            b"\x07\x0a\x01g\x22\x02\x00\x00",
            400,
            "proto: io_prometheus_client.Metric: illegal tag 0 (wire type 0)",
            content_type=PROTOBUF,
        )
    ],
    # Gzip.
    "gzip: empty body": [Step("job/p", b"", 400, "EOF", gzipped=True)],
    "gzip: not gzip": [Step("job/p", b"foo 1\n", 400, "unexpected EOF", gzipped=True)],
}


def _protobuf(*families: object) -> bytes:
    from batchgate.collector.pushgateway.protobuf_encoding import encode_delimited

    return encode_delimited(families)  # type: ignore[arg-type]


def _build_protobuf_cases() -> dict[str, list[Step]]:
    import math
    import struct

    from batchgate.collector.pushgateway.model import (
        COUNTER,
        GAUGE,
        HISTOGRAM,
        SUMMARY,
        UNTYPED,
        Bucket,
        Exemplar,
        Histogram,
        Metric,
        MetricFamily,
        NativeHistogram,
        Quantile,
        Summary,
        Value,
    )

    def gauge(value: float, *labels: tuple[str, str]) -> Metric:
        return Metric(list(labels), gauge=Value(value))

    def step(body: bytes, message: str) -> list[Step]:
        return [Step("job/p", body, 400, message, content_type=PROTOBUF)]

    native = NativeHistogram(-2, 0.5, 4, None, [(-1, 2)], [1, 2])
    histogram = Histogram(
        1, 2.5, 2.0, [Bucket(1, 3.5, 0.5, Exemplar([("t", "x")], 2.0, (5, 6)))], native
    )
    assert struct  # (kept for readers building raw fields)
    return {
        "protobuf: metric of another type": step(
            _protobuf(MetricFamily("x", None, GAUGE, [Metric([], counter=Value(1))])),
            metric_error("x", JOB_P, "counter:<value:1 > ", "is not a GAUGE"),
        ),
        "protobuf: no type is COUNTER": step(
            _protobuf(MetricFamily("g1", None, None, [gauge(1)])),
            metric_error("g1", JOB_P, "gauge:<value:1 > ", "is not a COUNTER"),
        ),
        "protobuf: metric without value": step(
            _protobuf(MetricFamily("x", None, GAUGE, [Metric([])])),
            metric_error("x", JOB_P, "", "is not a GAUGE"),
        ),
        "protobuf: invalid label name": step(
            _protobuf(MetricFamily("x", None, GAUGE, [gauge(1, ("a-b", "1"))])),
            metric_error(
                "x",
                'label:<name:"a-b" value:"1" > ' + JOB_P,
                "gauge:<value:1 > ",
                "has a label with an invalid name: a-b",
            ),
        ),
        "protobuf: duplicate label": step(
            _protobuf(MetricFamily("x", None, GAUGE, [gauge(1, ("a", "1"), ("a", "2"))])),
            metric_error(
                "x",
                'label:<name:"a" value:"1" > label:<name:"a" value:"2" > ' + JOB_P,
                "gauge:<value:1 > ",
                "has two or more labels with the same name: a",
            ),
        ),
        "protobuf: job label twice": step(
            _protobuf(MetricFamily("x", None, GAUGE, [gauge(1, ("job", "1"), ("job", "2"))])),
            metric_error(
                "x",
                'label:<name:"instance" value:"" > label:<name:"job" value:"p" > '
                'label:<name:"job" value:"2" > ',
                "gauge:<value:1 > ",
                "has two or more labels with the same name: job",
            ),
        ),
        "protobuf: summary with quantile label": step(
            _protobuf(
                MetricFamily(
                    "s", None, SUMMARY, [Metric([("quantile", "1")], summary=Summary(1, 2.0))]
                )
            ),
            metric_error(
                "s",
                JOB_P + 'label:<name:"quantile" value:"1" > ',
                "summary:<sample_count:1 sample_sum:2 > ",
                'must not have an explicit "quantile" label',
            ),
        ),
        "protobuf: label value not UTF-8": step(
            _protobuf(MetricFamily("x", None, GAUGE, [gauge(1, ("a", "\udcff"))])),
            metric_error(
                "x",
                'label:<name:"a" value:"\\377" > ' + JOB_P,
                "gauge:<value:1 > ",
                'has a label named "a" whose value is not utf8: "\\xff"',
            ),
        ),
        "protobuf: timestamp": step(
            _protobuf(MetricFamily("x", None, GAUGE, [Metric([], gauge=Value(1), timestamp_ms=5)])),
            INCONSISTENT + "pushed metrics must not have timestamps",
        ),
        "protobuf: same series twice, with an exemplar": step(
            _protobuf(
                MetricFamily(
                    "c",
                    None,
                    COUNTER,
                    [
                        Metric([("a", "b")], counter=Value(1, Exemplar([("t", "1")], 1.0, (5, 6)))),
                        Metric([("a", "b")], counter=Value(1)),
                    ],
                )
            ),
            metric_error(
                "c",
                'label:<name:"a" value:"b" > ' + JOB_P,
                "counter:<value:1 > ",
                "was collected before with the same name and label values",
            ),
        ),
        "protobuf: same histogram twice, native fields": step(
            _protobuf(MetricFamily("h", None, HISTOGRAM, [Metric([], histogram=histogram)] * 2)),
            metric_error(
                "h",
                JOB_P,
                "histogram:<sample_count:1 sample_count_float:2.5 sample_sum:2 bucket:<"
                "cumulative_count:1 cumulative_count_float:3.5 upper_bound:0.5 exemplar:<label:<"
                'name:"t" value:"x" > value:2 timestamp:<seconds:5 nanos:6 > > > schema:-2 '
                "zero_threshold:0.5 zero_count:4 negative_span:<offset:-1 length:2 > "
                "negative_delta:1 negative_delta:2 > ",
                "was collected before with the same name and label values",
            ),
        ),
        "protobuf: same summary twice": step(
            _protobuf(
                MetricFamily(
                    "s",
                    None,
                    SUMMARY,
                    [
                        Metric(
                            [],
                            summary=Summary(1, 2.0, [Quantile(0.5, 1.0), Quantile(0.9, math.nan)]),
                        ),
                        Metric(
                            [],
                            summary=Summary(1, 2.0, [Quantile(0.5, 1.0), Quantile(0.9, math.inf)]),
                        ),
                    ],
                )
            ),
            metric_error(
                "s",
                JOB_P,
                "summary:<sample_count:1 sample_sum:2 quantile:<quantile:0.5 value:1 > "
                "quantile:<quantile:0.9 value:inf > > ",
                "was collected before with the same name and label values",
            ),
        ),
        "protobuf: same series twice, odd label and -0": step(
            _protobuf(
                MetricFamily(
                    "u",
                    None,
                    UNTYPED,
                    [Metric([("z", '\n\t"é')], untyped=Value(-0.0))] * 2,
                )
            ),
            metric_error(
                "u",
                JOB_P + 'label:<name:"z" value:"\\n\\t\\"\\303\\251" > ',
                "untyped:<value:-0 > ",
                "was collected before with the same name and label values",
            ),
        ),
        "protobuf: same series twice, small value": step(
            _protobuf(
                MetricFamily(
                    "u",
                    None,
                    UNTYPED,
                    [Metric([], untyped=Value(1e21)), Metric([], untyped=Value(1e-7))],
                )
            ),
            metric_error(
                "u",
                JOB_P,
                "untyped:<value:1e-07 > ",
                "was collected before with the same name and label values",
            ),
        ),
    }


def _cross_group_cases() -> dict[str, list[Step]]:
    def labels(job: str) -> str:
        return f'label:<name:"instance" value:"" > label:<name:"job" value:"{job}" > '

    counter_b = metric_error("foo", labels("b"), "counter:<value:2 > ", "is not a GAUGE")
    gauge_a = metric_error("foo", labels("a"), "gauge:<value:1 > ", "is not a COUNTER")
    histogram = b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n'
    summary = b'# TYPE s summary\ns{quantile="0.5"} 1\ns_count 1\ns_sum 1\n'
    return {
        "a name with two types": [
            Step("job/a", b"# TYPE foo gauge\nfoo 1\n"),
            Step(
                "job/b",
                b"# TYPE foo counter\nfoo 2\n",
                400,
                counter_b,
                alternatives=(counter_b, gauge_a),
            ),
        ],
        "a metric colliding with a histogram's _count": [
            Step("job/a", histogram),
            Step(
                "job/b",
                b"# TYPE h_count gauge\nh_count 3\n",
                400,
                INCONSISTENT
                + 'collected metric named "h_count" collides with previously collected '
                'histogram named "h"',
                alternatives=(
                    INCONSISTENT + 'collected metric named "h_count" collides with previously '
                    'collected histogram named "h"',
                    INCONSISTENT + 'collected histogram or summary named "h" collides with '
                    'previously collected metric named "h_count"',
                ),
            ),
        ],
        "a histogram colliding with a stored _bucket": [
            Step("job/a", b"h_bucket 3\n"),
            Step(
                "job/b",
                histogram,
                400,
                INCONSISTENT + 'collected histogram named "h" collides with previously '
                'collected metric named "h_bucket"',
                alternatives=(
                    INCONSISTENT + 'collected histogram named "h" collides with previously '
                    'collected metric named "h_bucket"',
                    INCONSISTENT + 'collected metric named "h_bucket" collides with previously '
                    'collected histogram named "h"',
                ),
            ),
        ],
        "a summary colliding with a stored _sum": [
            Step("job/a", b"s_sum 3\n"),
            Step(
                "job/b",
                summary,
                400,
                INCONSISTENT + 'collected histogram or summary named "s" collides with '
                'previously collected metric named "s_sum"',
                alternatives=(
                    INCONSISTENT + 'collected histogram or summary named "s" collides with '
                    'previously collected metric named "s_sum"',
                    INCONSISTENT + 'collected metric named "s_sum" collides with previously '
                    'collected summary named "s"',
                ),
            ),
        ],
        "a failed push leaves the group's other metrics": [
            Step("job/a", b"# TYPE foo gauge\nfoo 1\n"),
            Step("job/b", b"bar 1\n"),
            Step(
                "job/b",
                b"# TYPE foo counter\nfoo 2\n",
                400,
                counter_b,
                method="POST",
                alternatives=(counter_b, gauge_a),
            ),
        ],
    }


CASES.update(_build_protobuf_cases())
CASES.update(_cross_group_cases())


def _gzip_cases() -> dict[str, list[Step]]:
    import gzip

    from .client_bodies import go_client_body

    protobuf = gzip.compress(go_client_body(), mtime=0)
    text = gzip.compress(b"foo 1\nbar 2\n", mtime=0)

    def pushed(
        body: bytes, status: int = 200, message: str = "", protobuf: bool = False
    ) -> list[Step]:
        content_type = PROTOBUF if protobuf else None
        return [Step("job/z", body, status, message, content_type=content_type, gzipped=True)]

    return {
        "gzip: protobuf": pushed(protobuf, protobuf=True),
        "gzip: protobuf, bad checksum": pushed(
            protobuf[:-8] + b"\0\0\0\0" + protobuf[-4:], 400, "gzip: invalid checksum", True
        ),
        "gzip: protobuf, cut trailer": pushed(protobuf[:-3], 400, "unexpected EOF", True),
        "gzip: protobuf, trailing garbage": pushed(
            protobuf + b"garbage!!!!!!", 400, "gzip: invalid header", True
        ),
        "gzip: protobuf, short trailing garbage": pushed(
            protobuf + b"xx", 400, "unexpected EOF", True
        ),
        "gzip: text cut inside a line": pushed(text[:18], 400, "unexpected EOF"),
        "gzip: text, errors at a line start are ignored": pushed(text + b"garbage!!!!!!"),
        "gzip: text, bad checksum at the end is ignored": pushed(
            text[:-8] + b"\0\0\0\0" + text[-4:]
        ),
        "gzip: two members": pushed(text + gzip.compress(b"baz 3\n", mtime=0)),
    }


CASES.update(_gzip_cases())
