"""Silences in Alertmanager's shape: people and tools that know Alertmanager know these.

A silence mutes the alerts whose labels match all its matchers while `startsAt <= now <
endsAt`. A muted alert is not notified (and stays visible, marked silenced). The JSON shape is
Alertmanager's API v2: `{id, matchers: [{name, value, isRegex, isEqual}], startsAt, endsAt,
createdBy, comment}`; regular expressions are anchored at both ends, and a label the alert does
not have reads as "", as in Alertmanager.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from batchgate.rules.matcher_strings import Matcher
from batchgate.rules.payloads import format_time
from batchgate.rules.recurrence import Recurrence, parse_recurrence

PENDING: Final = "pending"
ACTIVE: Final = "active"
EXPIRED: Final = "expired"
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class SilenceError:
    """One problem in a posted silence: the field (`matchers[0].value`) and the reason."""

    field: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class InvalidSilence(ValueError):
    """A posted silence is invalid; `errors` names every problem."""

    def __init__(self, errors: list[SilenceError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float
    recurrence: Recurrence | None = None
    """A maintenance window: in effect only `duration` from each time of its schedule, between
    `starts_at` and `ends_at` (pending in between)."""

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return PENDING
        if now >= self.ends_at:
            return EXPIRED
        return ACTIVE if self.recurrence is None or self.recurrence.covers(now) else PENDING

    def matches(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether this silence mutes an alert with these labels at `now`."""
        if not self.starts_at <= now < self.ends_at:
            return False
        if self.recurrence is not None and not self.recurrence.covers(now):
            return False
        return all(matcher.matches(labels) for matcher in self.matchers)

    def expire(self, now: float) -> Silence:
        """This silence ended at `now` (what DELETE /silences/{id} does in Alertmanager)."""
        if self.state(now) == EXPIRED:
            return self
        starts_at = min(self.starts_at, now)
        return Silence(
            self.id,
            self.matchers,
            starts_at,
            now,
            self.created_by,
            self.comment,
            now,
            self.recurrence,
        )

    def to_dict(self, now: float) -> dict[str, Any]:
        """Alertmanager's GettableSilence."""
        return {
            "id": self.id,
            "status": {"state": self.state(now)},
            "updatedAt": format_time(self.updated_at),
            "matchers": [matcher.to_dict() for matcher in self.matchers],
            "startsAt": format_time(self.starts_at),
            "endsAt": format_time(self.ends_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            **({} if self.recurrence is None else {"recurrence": self.recurrence.to_dict()}),
        }


def silencing(silences: Iterable[Silence], labels: Mapping[str, str], now: float) -> list[str]:
    """Ids of the silences that mute an alert with these labels at `now`."""
    return [silence.id for silence in silences if silence.matches(labels, now)]


def parse_time(value: Any) -> float:
    """Seconds since the epoch from an RFC 3339 string (`Z` or an offset required)."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 time string")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (add Z or an offset)")
    return moment.timestamp()


def parse_silence(data: Any, *, new_id: str, now: float, stored: bool = False) -> Silence:
    """A Silence from Alertmanager's PostableSilence JSON; raises InvalidSilence naming every
    problem. `new_id` is used when the body has no `id` (a creation). With `stored`, the data is
    one the server saved itself (`to_dict`) and an end in the past is accepted."""
    errors: list[SilenceError] = []
    if not isinstance(data, Mapping):
        raise InvalidSilence([SilenceError("", "a silence must be a JSON object")])
    known = {
        "id", "matchers", "startsAt", "endsAt", "createdBy", "comment", "status", "updatedAt",
        "recurrence",
    }  # fmt: skip
    errors.extend(SilenceError(key, "unknown field") for key in data if key not in known)
    matchers = _parse_matchers(data.get("matchers"), errors)
    recurrence = None
    if data.get("recurrence") is not None:
        recurrence, problems = parse_recurrence(data["recurrence"])
        errors.extend(
            SilenceError(f"recurrence.{where}" if where else "recurrence", reason)
            for where, reason in problems
        )
    times: dict[str, float] = {}
    for key in ("startsAt", "endsAt"):
        if key not in data:
            errors.append(SilenceError(key, "required"))
            continue
        try:
            times[key] = parse_time(data[key])
        except ValueError as exc:
            errors.append(SilenceError(key, str(exc)))
    if len(times) == 2:
        if times["endsAt"] < times["startsAt"]:
            errors.append(SilenceError("endsAt", "must not be before startsAt"))
        elif not stored and times["endsAt"] <= now:
            errors.append(SilenceError("endsAt", "must be in the future"))
    texts: dict[str, str] = {}
    for key in ("createdBy", "comment"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(SilenceError(key, "required (a non-empty string)"))
        else:
            texts[key] = value
    identity = data.get("id")
    if identity is not None and (not isinstance(identity, str) or not identity):
        errors.append(SilenceError("id", "must be a non-empty string"))
    if errors:
        raise InvalidSilence(errors)
    updated = data.get("updatedAt") if stored else None
    return Silence(
        id=identity or new_id,
        matchers=matchers,
        starts_at=times["startsAt"],
        ends_at=times["endsAt"],
        created_by=texts["createdBy"],
        comment=texts["comment"],
        updated_at=parse_time(updated) if isinstance(updated, str) else now,
        recurrence=recurrence,
    )


def _parse_matchers(value: Any, errors: list[SilenceError]) -> tuple[Matcher, ...]:
    if not isinstance(value, list) or not value:
        errors.append(SilenceError("matchers", "at least one matcher required"))
        return ()
    matchers: list[Matcher] = []
    for index, item in enumerate(value):
        where = f"matchers[{index}]"
        if not isinstance(item, Mapping):
            errors.append(SilenceError(where, "must be an object {name, value, isRegex}"))
            continue
        name, text = item.get("name"), item.get("value")
        is_regex, is_equal = item.get("isRegex", False), item.get("isEqual", True)
        ok = True
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
            errors.append(SilenceError(f"{where}.name", "must be a valid label name"))
            ok = False
        if not isinstance(text, str):
            errors.append(SilenceError(f"{where}.value", "must be a string"))
            ok = False
        for key, flag in (("isRegex", is_regex), ("isEqual", is_equal)):
            if not isinstance(flag, bool):
                errors.append(SilenceError(f"{where}.{key}", "must be true or false"))
                ok = False
        unknown = set(item) - {"name", "value", "isRegex", "isEqual"}
        errors.extend(SilenceError(f"{where}.{key}", "unknown field") for key in sorted(unknown))
        if not ok or unknown or not isinstance(name, str) or not isinstance(text, str):
            continue
        regex = None
        if is_regex:
            try:
                regex = re.compile(text)
            except re.error as exc:
                errors.append(SilenceError(f"{where}.value", f"invalid regular expression: {exc}"))
                continue
        matchers.append(Matcher(name, text, is_regex, is_equal, regex))
    if matchers and len(matchers) == len(value) and all(m.matches_empty() for m in matchers):
        errors.append(
            SilenceError("matchers", "at least one matcher must not match the empty string")
        )
    return tuple(matchers)
