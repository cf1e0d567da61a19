"""`batchgate discover`: the rules and wrappers for the cron jobs a machine already has.

    crontab -l | batchgate discover -
    batchgate discover /etc/crontab /etc/cron.d/* cronjobs.yaml --write rules/discovered.yaml

It reads crontabs (`crontab -l` output; `/etc/crontab` and `/etc/cron.d/*`, which have a user
field) and Kubernetes CronJob manifests, and prints a rules file: for each entry a `missed`
rule with its schedule and time zone (`CRON_TZ=`/`TZ=` lines, a CronJob's `timeZone`), and,
as a comment above it, the `batchgate run` wrapper to put in front of its command.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cronsim import CronSim, CronSimError

from batchgate.rules.durations import format_duration
from batchgate.rules.ruleset import parse_rules

MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ASSIGNMENT: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_JOB_CHARACTERS: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_SHELL_WORDS: Final = frozenset({"cd", "sh", "bash", "env", "nice", "ionice", "flock", "timeout"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One scheduled job found: where, its schedule and time zone, its command."""

    source: str
    line: int
    schedule: str
    timezone: str
    command: str
    prefix: str
    """What stands before the command on its line (the schedule, the user): for the wrapper."""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


def read_crontab(text: str, source: str, *, system: bool) -> tuple[list[Entry], list[Problem]]:
    """The entries of a crontab; `system`: lines have a user field (`/etc/crontab`)."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    zone = "UTC"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment is not None and not line.startswith(("@", "*")):
            name, value = assignment.groups()
            if name in ("CRON_TZ", "TZ"):
                zone = value.strip("'\"") or "UTC"
            continue
        first = line.split(None, 1)[0]
        if first == "@reboot":
            problems.append(Problem(source, number, "@reboot has no schedule to watch: skipped"))
            continue
        if first.startswith("@") and first not in MACROS:
            problems.append(Problem(source, number, f"unknown macro {first}"))
            continue
        # The schedule's fields (one for a macro, five otherwise), the user's, the command.
        before = (1 if first.startswith("@") else 5) + (1 if system else 0)
        parts = line.split(None, before)
        if len(parts) <= before:
            problems.append(Problem(source, number, "not a crontab entry (schedule and command)"))
            continue
        schedule = MACROS.get(first) or " ".join(parts[:5])
        command = parts[-1]
        prefix = line[: len(line) - len(command)].rstrip()
        entries.append(Entry(source, number, schedule, zone, command, prefix))
    return entries, problems


def read_manifests(text: str, source: str) -> tuple[list[Entry], list[Problem]]:
    """The CronJobs of a Kubernetes manifest file (several documents allowed)."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Problem(source, mark.line + 1 if mark else 0, f"invalid YAML: {exc}")]
    for document in documents:
        items = document.get("items", [document]) if isinstance(document, dict) else []
        for item in items:
            if not isinstance(item, dict) or item.get("kind") != "CronJob":
                continue
            spec = item.get("spec") or {}
            name = str((item.get("metadata") or {}).get("name") or "cronjob")
            containers = (
                ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
            ).get("spec", {}).get("containers") or [{}]
            container = containers[0] if isinstance(containers[0], dict) else {}
            words = [
                str(w) for w in (container.get("command") or []) + (container.get("args") or [])
            ]
            schedule = str(spec.get("schedule") or "")
            zone = str(spec.get("timeZone") or "UTC")
            if schedule.startswith("@"):
                schedule = MACROS.get(schedule, schedule)
            entries.append(Entry(source, 0, schedule, zone, " ".join(words), "", _job_name(name)))
    return entries, problems


def _job_name(text: str) -> str:
    return _JOB_CHARACTERS.sub("_", text).strip("_.-") or "job"


def job_name_of(command: str) -> str:
    """A job name from a command: its program's name, without directory or extension
    (`cd /srv && ./backup.sh > log` is `backup`)."""
    for part in re.split(r"&&|;|\|\|?", command):
        words = [w for w in part.split() if "=" not in w.split("/")[0]]
        if words[:1] == ["cd"]:
            continue  # where it runs, not what
        for word in words:
            base = word.rsplit("/", 1)[-1]
            if not base or base.startswith("-") or base in _SHELL_WORDS or base.isdigit():
                continue
            return _job_name(base.split(".")[0] if "." in base[1:] else base)
    return "job"


def _grace(schedule: str, zone: ZoneInfo) -> float:
    """A quarter of the shortest gap between two runs, between 1 and 30 minutes."""
    ticks = CronSim(schedule, datetime(2024, 1, 1, tzinfo=zone))
    moments = [next(ticks).timestamp() for _ in range(6)]
    gap = min(b - a for a, b in itertools.pairwise(moments))
    return max(60.0, min(1800.0, (gap // 4) // 60 * 60))


def _rule_name(job: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", job)
    name = "".join(word[:1].upper() + word[1:] for word in words if word) or "Job"
    return ("Job" + name if name[0].isdigit() else name) + "Missed"


def render(entries: Sequence[Entry]) -> tuple[str, list[Problem]]:
    """The rules file for these entries (wrappers in comments), and the entries refused."""
    problems: list[Problem] = []
    lines = ["# Made by batchgate discover: a `missed` rule per scheduled job.", "rules:"]
    used: dict[str, int] = {}
    for entry in entries:
        try:
            zone = ZoneInfo(entry.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                Problem(entry.source, entry.line, f"unknown time zone {entry.timezone!r}")
            )
            continue
        try:
            grace = _grace(entry.schedule, zone)
        except (CronSimError, StopIteration, ValueError) as exc:
            problems.append(
                Problem(entry.source, entry.line, f"schedule {entry.schedule!r}: {exc}")
            )
            continue
        job = entry.name or job_name_of(entry.command)
        used[job] = used.get(job, 0) + 1
        if used[job] > 1:
            job = f"{job}_{used[job]}"
        where = f"{entry.source}:{entry.line}" if entry.line else entry.source
        lines.append(f"  # {where}: {entry.command}")
        if entry.line:
            lines.append(f"  #   {entry.prefix} batchgate run --job {job} -- {entry.command}")
        else:
            lines.append(f'  #   command: ["batchgate", "run", "--job", "{job}", "--", ...]')
        lines.append(
            f"  - {{name: {_rule_name(job)}, kind: missed, match: {{job: {job}}},"
            f' schedule: "{entry.schedule}", timezone: {entry.timezone},'
            f" grace: {format_duration(grace).replace(' ', '')}}}"
        )
    if len(lines) == 2:
        lines[-1] = "rules: []"
    return "\n".join(lines) + "\n", problems


def _read(paths: Iterable[str], stdin: TextIO, system: bool) -> tuple[list[Entry], list[Problem]]:
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path in paths:
        if path == "-":
            text, source = stdin.read(), "<stdin>"
        else:
            try:
                text, source = Path(path).read_text(encoding="utf-8"), path
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(path, 0, f"cannot read: {exc}"))
                continue
        if path.endswith((".yaml", ".yml")) or re.search(r"^kind:\s*CronJob", text, re.M):
            found, trouble = read_manifests(text, source)
        else:
            is_system = system or path == "/etc/crontab" or path.startswith("/etc/cron.d/")
            found, trouble = read_crontab(text, source, system=is_system)
        entries += found
        problems += trouble
    return entries, problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        default=["-"],
        metavar="FILE",
        help="crontabs or CronJob manifests; - is standard input",
    )
    parser.add_argument("--write", metavar="FILE", help="write the rules to FILE")
    parser.add_argument(
        "--system", action="store_true", help="the crontabs have a user field (as /etc/crontab)"
    )


def run(
    parsed: argparse.Namespace,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print (or write) the rules; 0, or 1 when an entry could not be read."""
    entries, problems = _read(parsed.files, stdin, parsed.system)
    text, refused = render(entries)
    problems += refused
    _, errors = parse_rules(text, parsed.write or "<discovered>")
    assert not errors, errors  # what is written must load
    for problem in problems:
        print(problem, file=err)
    if parsed.write:
        Path(parsed.write).write_text(text, encoding="utf-8")
        print(f"{parsed.write}: {len(entries) - len(refused)} rules", file=out)
    else:
        out.write(text)
    return 1 if problems and not entries else 0
