"""Silences in Alertmanager's shape: validation, matching, expiry."""

import pytest

from batchgate.rules.payloads import format_time
from batchgate.rules.silences import (
    ACTIVE,
    EXPIRED,
    PENDING,
    InvalidSilence,
    parse_silence,
    silencing,
)

T = 1_714_521_600.0
LABELS = {"alertname": "JobFailed", "job": "etl_daily", "severity": "critical", "env": "prod"}


def _silence(matchers, starts=T, ends=T + 3600, **extra):
    body = {
        "matchers": matchers,
        "startsAt": format_time(starts),
        "endsAt": format_time(ends),
        "createdBy": "alice",
        "comment": "deploying",
        **extra,
    }
    return parse_silence(body, new_id="s-1", now=T)


def test_an_equality_matcher_silences_matching_alerts():
    silence = _silence([{"name": "job", "value": "etl_daily", "isRegex": False}])

    assert silence.matches(LABELS, T)
    assert not silence.matches({**LABELS, "job": "other"}, T)


def test_a_regex_matcher_is_anchored():
    silence = _silence([{"name": "job", "value": "etl_.*", "isRegex": True}])
    partial = _silence([{"name": "job", "value": "etl", "isRegex": True}])

    assert silence.matches(LABELS, T)
    assert not partial.matches(LABELS, T)


def test_every_matcher_must_match():
    silence = _silence(
        [
            {"name": "job", "value": "etl_daily", "isRegex": False},
            {"name": "severity", "value": "warning|info", "isRegex": True},
        ]
    )

    assert not silence.matches(LABELS, T)


def test_is_equal_false_negates_a_matcher():
    silence = _silence(
        [
            {"name": "job", "value": "etl_daily", "isRegex": False},
            {"name": "env", "value": "prod", "isRegex": False, "isEqual": False},
        ]
    )

    assert not silence.matches(LABELS, T)
    assert silence.matches({**LABELS, "env": "dev"}, T)


def test_it_mutes_only_between_starts_at_and_ends_at():
    silence = _silence([{"name": "job", "value": "etl_daily", "isRegex": False}], T + 60, T + 120)

    assert [silence.matches(LABELS, t) for t in (T + 59, T + 60, T + 119, T + 120)] == [
        False,
        True,
        True,
        False,
    ]
    assert [silence.state(t) for t in (T, T + 60, T + 120)] == [PENDING, ACTIVE, EXPIRED]


def test_silencing_lists_the_silences_muting_an_alert():
    first = _silence([{"name": "job", "value": "etl_daily", "isRegex": False}])
    second = parse_silence(
        {
            "matchers": [{"name": "env", "value": "dev", "isRegex": False}],
            "startsAt": format_time(T),
            "endsAt": format_time(T + 60),
            "createdBy": "bob",
            "comment": "x",
        },
        new_id="s-2",
        now=T,
    )

    assert silencing([first, second], LABELS, T) == ["s-1"]


def test_the_json_shape_is_alertmanagers_gettable_silence():
    silence = _silence([{"name": "job", "value": "etl_daily", "isRegex": False}])

    assert silence.to_dict(T) == {
        "id": "s-1",
        "status": {"state": "active"},
        "updatedAt": "2024-05-01T00:00:00Z",
        "matchers": [{"name": "job", "value": "etl_daily", "isRegex": False, "isEqual": True}],
        "startsAt": "2024-05-01T00:00:00Z",
        "endsAt": "2024-05-01T01:00:00Z",
        "createdBy": "alice",
        "comment": "deploying",
    }


def test_a_stored_silence_parses_back_even_when_expired():
    silence = _silence([{"name": "job", "value": "etl_daily", "isRegex": False}])

    again = parse_silence(silence.to_dict(T), new_id="unused", now=T + 7200, stored=True)

    assert again == silence


def test_an_id_in_the_body_updates_that_silence():
    silence = _silence([{"name": "job", "value": "x", "isRegex": False}], id="existing")

    assert silence.id == "existing"


def test_expire_ends_it_now():
    silence = _silence([{"name": "job", "value": "etl_daily", "isRegex": False}])

    expired = silence.expire(T + 10)

    assert (expired.ends_at, expired.state(T + 10)) == (T + 10, EXPIRED)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"matchers": []}, {"matchers", "startsAt", "endsAt", "createdBy", "comment"}),
        (
            {
                "matchers": [{"name": "job", "value": ".*", "isRegex": True}],
                "startsAt": "2024-05-01T00:00:00Z",
                "endsAt": "2024-05-01T01:00:00Z",
                "createdBy": "a",
                "comment": "b",
            },
            {"matchers"},  # matches the empty string: would silence everything
        ),
        (
            {
                "matchers": [{"name": "1job", "value": "(", "isRegex": "yes"}],
                "startsAt": "yesterday",
                "endsAt": "2024-05-01T01:00:00",
                "createdBy": "",
                "comment": "b",
                "extra": 1,
            },
            {
                "matchers[0].name",
                "matchers[0].isRegex",
                "startsAt",
                "endsAt",
                "createdBy",
                "extra",
            },
        ),
        (
            {
                "matchers": [{"name": "job", "value": "x", "isRegex": False}],
                "startsAt": "2024-05-01T02:00:00Z",
                "endsAt": "2024-05-01T01:00:00Z",
                "createdBy": "a",
                "comment": "b",
            },
            {"endsAt"},
        ),
        (
            {
                "matchers": [{"name": "job", "value": "x", "isRegex": False}],
                "startsAt": "2024-04-30T00:00:00Z",
                "endsAt": "2024-04-30T01:00:00Z",
                "createdBy": "a",
                "comment": "b",
            },
            {"endsAt"},  # already over
        ),
        (
            {
                "matchers": [{"name": "job", "value": "(", "isRegex": True}],
                "startsAt": "2024-05-01T00:00:00Z",
                "endsAt": "2024-05-01T01:00:00Z",
                "createdBy": "a",
                "comment": "b",
            },
            {"matchers[0].value"},
        ),
    ],
)
def test_invalid_silences_name_every_bad_field(body, fields):
    with pytest.raises(InvalidSilence) as raised:
        parse_silence(body, new_id="x", now=T)

    assert {error.field for error in raised.value.errors} == fields
