"""Where batchgate answers differently from the Pushgateway 1.5.1, on purpose.

Each of these is a push the Pushgateway accepts and then breaks on (its /metrics, or every
later push), or an answer that is random in the Pushgateway. docs/pushgateway.md lists them.
"""

from __future__ import annotations

import pytest

from batchgate.collector.pushgateway import (
    PROTOBUF_CONTENT_TYPE,
    GroupingKeyError,
    GroupRegistry,
    InconsistentPushError,
    encode_delimited,
)
from batchgate.collector.pushgateway.model import (
    GAUGE,
    GAUGE_HISTOGRAM,
    HISTOGRAM,
    Histogram,
    Metric,
    MetricFamily,
    Value,
)

INCONSISTENT = "pushed metrics are invalid or inconsistent with existing metrics: "


def protobuf_refusal(registry: GroupRegistry, *families: MetricFamily) -> str:
    with pytest.raises(InconsistentPushError) as refused:
        registry.push("PUT", "job/p", encode_delimited(families), PROTOBUF_CONTENT_TYPE, False, 1.0)
    return refused.value.message.removeprefix(INCONSISTENT)


@pytest.mark.parametrize("name", ["", "a b", "1x", "é"])
def test_a_protobuf_family_with_an_invalid_name_is_refused(
    registry: GroupRegistry, name: str
) -> None:
    # The Pushgateway stores it; its /metrics then fails ("") or is unparseable.
    family = MetricFamily(name, None, GAUGE, [Metric([], gauge=Value(1))])
    assert protobuf_refusal(registry, family).endswith("is not a valid metric name")


@pytest.mark.parametrize("family_type", [GAUGE_HISTOGRAM, 99, -1])
def test_a_type_the_text_format_cannot_carry_is_refused(
    registry: GroupRegistry, family_type: int
) -> None:
    # The Pushgateway stores it and truncates its /metrics at that family.
    family = MetricFamily("x", None, family_type, [Metric([], histogram=Histogram(1))])
    assert "which the text exposition format cannot carry" in protobuf_refusal(registry, family)


def test_an_explicit_le_label_on_a_histogram_is_refused(registry: GroupRegistry) -> None:
    # The Pushgateway exposes `h_bucket{...,le="1",le="+Inf"}`, which Prometheus rejects.
    family = MetricFamily("h", None, HISTOGRAM, [Metric([("le", "1")], histogram=Histogram(1))])
    assert protobuf_refusal(registry, family).endswith('must not have an explicit "le" label')


def test_a_bad_base64_job_is_refused_and_the_next_push_works(registry: GroupRegistry) -> None:
    # The Pushgateway 1.5.1 returns without unlocking its handler: later pushes hang.
    for _ in range(2):
        with pytest.raises(GroupingKeyError):
            registry.push("PUT", "job@base64/!!", b"m 1\n", None, False, 1.0)
    registry.push("PUT", "job@base64/YQ", b"m 1\n", None, False, 2.0)


def test_a_failure_that_would_poison_the_store_creates_no_group(registry: GroupRegistry) -> None:
    # The Pushgateway creates the group anyway; its series then clash with every later push.
    registry.push("PUT", "job/a", b"m 1\n", None, False, 1.0)
    with pytest.raises(InconsistentPushError) as refused:
        registry.push("PUT", "job/a/instance/", b"m 2\n", None, False, 2.0)
    assert refused.value.group_changed is False
    with pytest.raises(InconsistentPushError) as refused:
        registry.push("PUT", "job/b/x@base64/_w", b"m 2\n", None, False, 3.0)
    assert refused.value.group_changed is False
    assert len(registry) == 1
    registry.push("PUT", "job/c", b"n 1\n", None, False, 4.0)


def test_help_that_is_not_utf8_is_repaired(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"# HELP m caf\xe9\nm 1\n", None, False, 1.0)
    assert "# HELP m caf\ufffd\n" in registry.render_text()


def test_a_pushed_failure_time_does_not_overwrite_the_real_one(registry: GroupRegistry) -> None:
    registry.push("PUT", "job/a", b"m 1\n", None, False, 1.0)
    registry.push("POST", "job/a", b"push_failure_time_seconds 12345\n", None, False, 2.0)
    assert 'push_failure_time_seconds{instance="",job="a"} 0\n' in registry.render_text()


def test_the_pushed_metric_is_the_one_reported_in_a_type_clash(registry: GroupRegistry) -> None:
    # The Pushgateway reports either group's metric, at random.
    registry.push("PUT", "job/a", b"# TYPE m gauge\nm 1\n", None, False, 1.0)
    with pytest.raises(InconsistentPushError) as refused:
        registry.push("PUT", "job/b", b"# TYPE m counter\nm 2\n", None, False, 2.0)
    assert 'value:"b"' in refused.value.message
    assert refused.value.message.endswith("is not a GAUGE")
