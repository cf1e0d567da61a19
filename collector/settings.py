"""Settings: one frozen value built by one pure function from a file, the environment and flags.

Precedence, lowest first: built-in defaults, the YAML config file, `BATCHGATE_*`
environment variables, command-line flags. A bad value fails at start with the file,
line and key it came from.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from batchgate.collector.alerting.settings import ALERTING_KEYS, AlertingSettings, alerting_settings
from batchgate.collector.auth import Token, tokens_from_config
from batchgate.collector.core.events import PushLimits
from batchgate.collector.core.state import StateSettings
from batchgate.collector.pushgateway import AggregateRule, ExpiryRule
from batchgate.collector.storage.postgres.url import check_url
from batchgate.rules import durations


class ConfigError(Exception):
    """Settings that cannot be used: every problem found (`problems`, one a line), each
    naming where it came from (file and line, variable or flag) and why."""

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Origin(NamedTuple):
    """Where a value came from: a line of the config file, or a variable or flag."""

    file: str  # the config file; "" for a variable or a flag
    line: int
    name: str  # "b.yaml:3", "flag --listen", "environment variable BATCHGATE_LISTEN"

    def problem(self, reason: str) -> Problem:
        return Problem(self.file, self.line, f"{self.name}: {reason}")


class Problem(NamedTuple):
    """One problem, sortable so that a file's come in the order of its lines."""

    file: str
    line: int
    message: str


def parse_duration(text: str | float | int) -> float:
    """Seconds from `90s`, `15m`, `1h30m`, `30d` (Prometheus' syntax), or a plain number of
    seconds as YAML or an environment variable gives it; ValueError for anything else."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, 15m, 2h or 30d")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration must not be negative")
        return float(text)
    if re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        return float(text)
    return durations.parse_duration(text)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` (every interface) or `[::1]:PORT`."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{text!r} is not HOST:PORT (for example :9091 or 127.0.0.1:9091)")
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port must be between 0 and 65535")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class Retention:
    max_age: float = 30 * 86400.0
    max_runs_per_job: int = 10_000
    interval: float = 600.0
    """How often retention runs."""
    event_ids: float = 7 * 86400.0
    """How long applied event ids are remembered in the store (exactly-once window)."""


@dataclass(frozen=True, slots=True)
class PushgatewaySettings:
    expire_after: float | None = None
    """Every group not pushed for this long disappears (`--push.expire-after`); None: never."""
    expire: tuple[ExpiryRule, ...] = ()
    """Per job-name pattern: the first that matches a group's job decides its expiry."""
    max_series_per_group: int = 100_000
    aggregate: tuple[AggregateRule, ...] = ()
    """Per job-name pattern: groups whose POSTs add up instead of replacing (first match)."""

    @property
    def expiry_rules(self) -> tuple[ExpiryRule, ...]:
        """The patterns, then `expire_after` as the rule for every other job."""
        fallback = (ExpiryRule("*", self.expire_after),) if self.expire_after else ()
        return self.expire + fallback


@dataclass(frozen=True, slots=True)
class Logging:
    level: str = "info"
    format: str = "logfmt"
    access_log: bool = True


@dataclass(frozen=True, slots=True)
class HighAvailability:
    lease: float = 5.0
    """The leadership lease's length (PostgreSQL only): renewed every third of it; a
    standby takes over once it has expired."""
    node_name: str = field(default_factory=socket.gethostname)
    """This node's name in the lease, /health and the log."""
    advertise_url: str = ""
    """Where clients reach this node, named by standbys in their 503s; "" for
    http://<node_name>:<port>."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = ""
    port: int = 9091
    data_dir: Path = Path("batchgate-data")
    durability: str = "process"
    """`process`: a killed process loses nothing acknowledged; `fsync`: nor does power loss."""
    store_url: str | None = field(default=None, repr=False)
    """`postgresql://...`: history in PostgreSQL; None: SQLite in `data_dir`. It may hold a
    password: never shown (see `storage.postgres.url.masked`)."""
    store_password_file: Path | None = None
    """A file holding the database password, when the URL has none."""
    max_body_bytes: int = 4 * 1024 * 1024
    push_timeout: float = 10.0
    """How long a push waits for durability before answering 503."""
    max_write_queue: int = 200_000
    sweep_interval: float = 1.0
    """How often running runs are checked for having gone silent (lost)."""
    limits: PushLimits = field(default_factory=PushLimits)
    runs: StateSettings = field(default_factory=StateSettings)
    retention: Retention = field(default_factory=Retention)
    logging: Logging = field(default_factory=Logging)
    pushgateway: PushgatewaySettings = field(default_factory=PushgatewaySettings)
    route_prefix: str = ""
    """Every route is served under this path, as the Pushgateway's --web.route-prefix."""
    http_fast_path: bool = True
    """Plain pushes answered by the front door (collector/http/front_door.py); False:
    aiohttp serves everything."""
    tokens: tuple[Token, ...] = ()
    """Who may call batchgate; none means every request is allowed (as the Pushgateway)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_jobs: int = 100_000
    """Jobs (and Pushgateway groups) batchgate will hold; a push creating more gets 429."""
    max_groups: int = 100_000
    """Pushgateway groups; a push creating more gets 429."""
    max_event_listeners: int = 1_000
    """Clients following GET /events at once; one more gets 429."""
    config_file: Path | None = None
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    """Rules, receivers and the notification outbox (collector.alerting.settings)."""
    ha: HighAvailability = field(default_factory=HighAvailability)
    """Several nodes on one PostgreSQL database, one of them leading (docs/high-availability.md)."""

    @property
    def listen(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


# Each config file key: (section, field, parser). Sections map to the nested dataclasses.
_Parser = Any
_FILE_KEYS: dict[str, dict[str, tuple[str | None, str, _Parser]]] = {
    "": {
        "listen": (None, "listen", parse_listen),
        "data_dir": (None, "data_dir", Path),
        "durability": (None, "durability", lambda v: _choice(v, ("process", "fsync"))),
        "push_timeout": (None, "push_timeout", parse_duration),
        "route_prefix": (None, "route_prefix", lambda v: parse_route_prefix(v)),
    },
    "store": {
        "url": (None, "store_url", check_url),
        "password_file": (None, "store_password_file", Path),
    },
    "pushgateway": {
        "expire_after": ("pushgateway", "expire_after", parse_duration),
        "expire": ("pushgateway", "expire", lambda v: _expiry_rules(v)),
        "aggregate": ("pushgateway", "aggregate", lambda v: _aggregate_rules(v)),
        "max_series_per_group": ("pushgateway", "max_series_per_group", lambda v: _positive_int(v)),
    },
    "runs": {
        "lost_after": ("runs", "lost_after", parse_duration),
        "stuck_after": ("runs", "stuck_after", parse_duration),
        "recent_runs": ("runs", "recent_runs", lambda v: _positive_int(v)),
        "timeline_points": ("runs", "max_samples", lambda v: _positive_int(v)),
        "timeline_interval": ("runs", "sample_interval", parse_duration),
        "sweep_interval": (None, "sweep_interval", parse_duration),
    },
    "retention": {
        "max_age": ("retention", "max_age", parse_duration),
        "max_runs_per_job": ("retention", "max_runs_per_job", lambda v: _positive_int(v)),
        "interval": ("retention", "interval", parse_duration),
        "event_ids": ("retention", "event_ids", parse_duration),
    },
    "limits": {
        "max_body_bytes": (None, "max_body_bytes", lambda v: _positive_int(v)),
        "max_write_queue": (None, "max_write_queue", lambda v: _positive_int(v)),
        "max_events_per_push": ("limits", "max_events", lambda v: _positive_int(v)),
        "max_labels": ("limits", "max_labels", lambda v: _positive_int(v)),
        "max_label_value_length": ("limits", "max_label_value_length", lambda v: _positive_int(v)),
        "max_metrics_per_event": ("limits", "max_metrics", lambda v: _positive_int(v)),
        "max_jobs": (None, "max_jobs", lambda v: _positive_int(v)),
        "max_groups": (None, "max_groups", lambda v: _positive_int(v)),
        "max_event_listeners": (None, "max_event_listeners", lambda v: _positive_int(v)),
    },
    "auth": {
        # Parsed in _build, which has the environment and the file reader at hand.
        "tokens": (None, "tokens", None),
    },
    "http": {
        "fast_path": (None, "http_fast_path", lambda v: _boolean(v)),
    },
    "ha": {
        "lease": ("ha", "lease", lambda v: _lease(v)),
        "node_name": ("ha", "node_name", lambda v: _non_empty(v)),
        "advertise_url": ("ha", "advertise_url", lambda v: _http_url(v)),
    },
    "tls": {
        "cert_file": (None, "tls_cert", Path),
        "key_file": (None, "tls_key", Path),
    },
    "logging": {
        "level": ("logging", "level", lambda v: _choice(v, ("debug", "info", "warning", "error"))),
        "format": ("logging", "format", lambda v: _choice(v, ("logfmt", "json"))),
        "access_log": ("logging", "access_log", lambda v: _boolean(v)),
    },
}

FLAGS = {
    "logging.level": "--log-level",
    "logging.format": "--log-format",
    "pushgateway.expire_after": "--push.expire-after",
    "route_prefix": "--web.route-prefix",
    "http.fast_path": "--http.fast-path",
    "store.url": "--store-url",
    "tls.cert_file": "--tls-cert",
    "tls.key_file": "--tls-key",
    "ha.lease": "--ha.lease",
    "ha.node_name": "--ha.node-name",
    "ha.advertise_url": "--ha.advertise-url",
}
"""How the command line spells a setting, where it is not `--` plus its name."""

ENVIRONMENT = {
    "BATCHGATE_LISTEN": "listen",
    "BATCHGATE_DATA_DIR": "data_dir",
    "BATCHGATE_CONFIG": "config",
    "BATCHGATE_LOG_LEVEL": "logging.level",
    "BATCHGATE_LOG_FORMAT": "logging.format",
    "BATCHGATE_DURABILITY": "durability",
    "BATCHGATE_TLS_CERT": "tls.cert_file",
    "BATCHGATE_TLS_KEY": "tls.key_file",
}


def environment_variables() -> dict[str, str]:
    """Every `BATCHGATE_*` variable and the setting it sets: `BATCHGATE_<SECTION>_<KEY>`
    for each key of the config file (`BATCHGATE_RETENTION_MAX_AGE`), plus the short
    names above. Lists (auth tokens, expiry patterns) are set in the file only."""
    variables = {}
    for section, keys in _FILE_KEYS.items():
        for key in keys:
            if (section, key) in (
                ("auth", "tokens"),
                ("pushgateway", "expire"),
                ("pushgateway", "aggregate"),
            ):
                continue
            name = f"{section}_{key}" if section else key
            variables[f"BATCHGATE_{name.upper()}"] = f"{section}.{key}" if section else key
    variables.update(ENVIRONMENT)
    return variables


def load_settings(
    flags: Mapping[str, Any], environ: Mapping[str, str], read_file: Any = None
) -> Settings:
    """Build the settings from flags (already parsed) and the environment.

    `flags` uses dotted keys as in the config file (`listen`, `data_dir`, `config`,
    `logging.level`, ...); a value of None means "not given". `read_file(path) -> str` is
    injectable for tests; it defaults to reading the file.
    """
    values: dict[str, tuple[Any, Origin]] = {}
    problems: list[Problem] = []
    config_path = flags.get("config") or environ.get("BATCHGATE_CONFIG")
    text: str | None = None
    reader = read_file or (lambda p: Path(p).read_text(encoding="utf-8"))
    if config_path:
        try:
            text = reader(config_path)
        except OSError as error:
            raise ConfigError(f"{config_path}: cannot read config file: {error.strerror}") from None
        values.update(_from_yaml(text, str(config_path), problems))
    for variable, key in environment_variables().items():
        if key != "config" and environ.get(variable):
            values[key] = (environ[variable], Origin("", 0, f"environment variable {variable}"))
    for key, value in flags.items():
        if key not in ("config", "rules") and value is not None:
            flag = FLAGS.get(key, "--" + key.replace("_", "-"))
            values[key] = (value, Origin("", 0, f"flag {flag}"))
    settings = _build(values, environ, reader, problems)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        message = "tls: give both a certificate and a key (--tls-cert and --tls-key)"
        problems.append(Problem("", 0, message))
    alerting, errors = alerting_settings(text, config_path and str(config_path), flags.get("rules"))
    problems.extend(Problem(error.file, error.line, str(error)) for error in errors)
    if problems:
        raise ConfigError(*(problem.message for problem in sorted(problems)))
    return replace(
        settings, config_file=Path(config_path) if config_path else None, alerting=alerting
    )


def _from_yaml(text: str, filename: str, problems: list[Problem]) -> dict[str, tuple[Any, Origin]]:
    """The config file's settings, each with its line; unknown keys go to `problems`.
    A file that is not YAML, or not a mapping, is one problem that stops everything."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark is not None else filename
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    values: dict[str, tuple[Any, Origin]] = {}
    if root is None:
        return values
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{filename}:{root.start_mark.line + 1}: the config must be a mapping")

    def origin(node: yaml.Node) -> Origin:
        line = node.start_mark.line + 1
        return Origin(filename, line, f"{filename}:{line}")

    for key_node, value_node in root.value:
        key = key_node.value
        if key in _FILE_KEYS and key != "":
            if not isinstance(value_node, yaml.MappingNode):
                problems.append(origin(key_node).problem(f"{key}: must be a mapping"))
                continue
            for sub_key_node, sub_value_node in value_node.value:
                sub_key = sub_key_node.value
                if sub_key not in _FILE_KEYS[key]:
                    known = ", ".join(sorted(_FILE_KEYS[key]))
                    reason = f"{key}.{sub_key}: unknown key (known: {known})"
                    problems.append(origin(sub_key_node).problem(reason))
                    continue
                values[f"{key}.{sub_key}"] = (_scalar(sub_value_node), origin(sub_key_node))
        elif key in _FILE_KEYS[""]:
            values[key] = (_scalar(value_node), origin(key_node))
        elif key in _EXTENSION_KEYS:
            continue  # read by the part that owns it
        else:
            sections = [k for k in _FILE_KEYS if k]
            known = ", ".join(sorted([*_FILE_KEYS[""], *sections, *_EXTENSION_KEYS]))
            problems.append(origin(key_node).problem(f"{key}: unknown key (known: {known})"))
    return values


_EXTENSION_KEYS: set[str] = {*ALERTING_KEYS}
"""Top-level sections owned by other parts (rules, receivers, auth): left to them here."""


def _scalar(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _build(
    values: dict[str, tuple[Any, Origin]],
    environ: Mapping[str, str],
    reader: Any,
    problems: list[Problem],
) -> Settings:
    """The settings of `values`; a value that cannot be parsed goes to `problems` and
    leaves its default in place (the caller raises once everything has been looked at)."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {
        "runs": {}, "retention": {}, "limits": {}, "logging": {}, "pushgateway": {}, "ha": {},
    }  # fmt: skip
    for key, (raw, where) in values.items():
        section_name, _, name = key.rpartition(".")
        spec = _FILE_KEYS.get(section_name, {}).get(name)
        if spec is None:
            problems.append(where.problem(f"{key}: unknown setting"))
            continue
        target, attribute, parser = spec
        try:
            if key == "auth.tokens":
                value = tokens_from_config(raw, environ, reader)
            else:
                value = parser(raw)
        except (ValueError, TypeError) as error:
            problems.append(where.problem(f"{key}: {error}"))
            continue
        if attribute == "listen":
            top["host"], top["port"] = value
        elif target is None:
            top[attribute] = value
        else:
            sections[target][attribute] = value
    defaults = Settings()
    return replace(
        defaults,
        **top,
        runs=replace(defaults.runs, **sections["runs"]),
        retention=replace(defaults.retention, **sections["retention"]),
        limits=replace(defaults.limits, **sections["limits"]),
        logging=replace(defaults.logging, **sections["logging"]),
        pushgateway=replace(defaults.pushgateway, **sections["pushgateway"]),
        ha=replace(defaults.ha, **sections["ha"]),
    )


def parse_route_prefix(value: Any) -> str:
    """`/pgw`, `pgw/` -> `/pgw`; `/` or empty -> no prefix."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a path such as /pushgateway")
    prefix = "/" + value.strip("/")
    if prefix != "/" and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
        raise ValueError(f"{value!r} is not a path such as /pushgateway")
    return "" if prefix == "/" else prefix


def _expiry_rules(value: Any) -> tuple[ExpiryRule, ...]:
    """A list of `{job: GLOB, after: DURATION}`; the first rule matching a job applies."""
    if not isinstance(value, list):
        raise ValueError("must be a list of {job: GLOB, after: DURATION}")
    rules = []
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict) or set(entry) != {"job", "after"}:
            raise ValueError(f"entry {number} must be {{job: GLOB, after: DURATION}}")
        if not isinstance(entry["job"], str) or not entry["job"]:
            raise ValueError(f"entry {number}: job must be a non-empty glob such as 'backup_*'")
        try:
            after = parse_duration(entry["after"])
        except (ValueError, TypeError) as error:
            raise ValueError(f"entry {number}: after: {error}") from None
        rules.append(ExpiryRule(entry["job"], after))
    return tuple(rules)


def _aggregate_rules(value: Any) -> tuple[AggregateRule, ...]:
    """A list of `{job: GLOB, counters: sum, histograms: sum, gauges: last|sum|max}`."""
    shape = "{job: GLOB, counters: sum, histograms: sum, gauges: last|sum|max}"
    if not isinstance(value, list):
        raise ValueError(f"must be a list of {shape}")
    rules = []
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict) or "job" not in entry:
            raise ValueError(f"entry {number} must be {shape}")
        unknown = set(entry) - {"job", "counters", "histograms", "gauges"}
        if unknown:
            raise ValueError(f"entry {number}: unknown keys {', '.join(sorted(map(str, unknown)))}")
        if not isinstance(entry["job"], str) or not entry["job"]:
            raise ValueError(f"entry {number}: job must be a non-empty glob such as 'lambda_*'")
        try:
            rules.append(
                AggregateRule(
                    entry["job"],
                    counters=entry.get("counters", "sum"),
                    histograms=entry.get("histograms", "sum"),
                    gauges=entry.get("gauges", "last"),
                )
            )
        except ValueError as error:
            raise ValueError(f"entry {number}: {error}") from None
    return tuple(rules)


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    return str(value)


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a positive whole number")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a positive whole number") from None
    if number <= 0:
        raise ValueError(f"{value!r} is not a positive whole number")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ValueError(f"{value!r} is not true or false")


def _lease(value: Any) -> float:
    seconds = parse_duration(value)
    if not 1.0 <= seconds <= 300.0:
        raise ValueError(f"{value!r}: the lease must be between 1s and 5m")
    return seconds


def _non_empty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a name")
    return value.strip()


def _http_url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")
