"""The `batchgate` command: serve, and (lazily) the client's `run` and the rules' checks.

Only `serve` loads the server's dependencies; `batchgate run` must work where only the
client is installed, so this module imports nothing heavy at the top.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

from batchgate.collector import __version__


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps help text without breaking words at hyphens (./batchgate-data stays whole)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """Reports a bad flag in one line, with where to look for help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="batchgate",
        description="A self-hosted monitor for batch and cron jobs, and a drop-in "
        "Prometheus Pushgateway.",
    )
    parser.add_argument("--version", action="version", version=f"batchgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser(
        "serve",
        help="run the collector",
        description="Run the collector: receive pushes, keep state and history, serve the API, "
        "/metrics and the dashboard. Settings come from flags, then BATCHGATE_* environment "
        "variables, then the config file, then built-in defaults.",
    )
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to listen on (default :9091, every interface; env BATCHGATE_LISTEN)",
    )
    serve.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory for the SQLite history (default ./batchgate-data; env BATCHGATE_DATA_DIR)",
    )
    serve.add_argument(
        "--store-url",
        metavar="URL",
        help="keep the history in PostgreSQL: postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
        "(default: SQLite in the data directory; env BATCHGATE_STORE_URL; the password may "
        "also come from PGPASSWORD or store.password_file)",
    )
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config file (optional; env BATCHGATE_CONFIG); see docs/configuration.md",
    )
    serve.add_argument(
        "--rules",
        metavar="FILE",
        action="append",
        help="a rules file (repeatable; added to the config file's rules_files); without any, "
        "the default rules apply. Reloaded on SIGHUP and POST /-/reload",
    )
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="least severe log level written (default info)",
    )
    serve.add_argument(
        "--log-format", choices=("logfmt", "json"), help="log line format (default logfmt)"
    )
    serve.add_argument(
        "--durability",
        choices=("process", "fsync"),
        help="'process' (default): an acknowledged push survives the process being killed; "
        "'fsync': it survives power loss too, at the cost of an fsync per group commit",
    )
    serve.add_argument(
        "--push.expire-after",
        dest="push_expire_after",
        metavar="DURATION",
        help="Pushgateway groups not pushed for this long disappear (default: never); "
        "per-job patterns go in the config file (pushgateway.expire), as do the jobs whose "
        "pushes add up instead of replacing (pushgateway.aggregate)",
    )
    serve.add_argument(
        "--web.route-prefix",
        dest="route_prefix",
        metavar="PATH",
        help="serve every route under this path, as the Pushgateway's flag of that name",
    )
    serve.add_argument(
        "--http.fast-path",
        dest="http_fast_path",
        metavar="BOOL",
        help="answer plain pushes before aiohttp, the fast path (default true); false: "
        "aiohttp serves every request (env BATCHGATE_HTTP_FAST_PATH)",
    )
    for name, metavar, text in (
        (
            "lease",
            "DURATION",
            "the leadership lease's length with PostgreSQL (default 5s): "
            "renewed every third of it, taken over by a standby once expired",
        ),
        (
            "node-name",
            "NAME",
            "this node's name in the lease, /health and the log (default the host name)",
        ),
        (
            "advertise-url",
            "URL",
            "where clients reach this node, as standbys name the "
            "leader (default http://NODE_NAME:PORT)",
        ),
    ):
        serve.add_argument(
            f"--ha.{name}",
            dest=f"ha_{name.replace('-', '_')}",
            metavar=metavar,
            help=f"{text}; env BATCHGATE_HA_{name.replace('-', '_').upper()}",
        )
    serve.add_argument(
        "--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM; with --tls-key)"
    )
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument(
        "--check-config",
        action="store_true",
        help="validate the settings and exit: 0 when they are usable",
    )
    migrate = commands.add_parser(
        "migrate",
        help="copy an SQLite history into PostgreSQL, to move to --store-url",
        description="Copy the history in a data directory (stop the server on it first) into "
        "a PostgreSQL database that no server has written to yet: runs, timelines, jobs, "
        "Pushgateway groups, alerts, outbox, silences, audit log. Copying again gives the "
        "same database. Then start `batchgate serve --store-url URL`.",
    )
    migrate.add_argument(
        "--from", dest="from_dir", metavar="DIR", required=True, help="the data directory"
    )
    migrate.add_argument(
        "--to",
        dest="to_url",
        metavar="URL",
        required=True,
        help="postgresql://USER:PASSWORD@HOST:PORT/DATABASE (the password may also come "
        "from PGPASSWORD or --password-file)",
    )
    migrate.add_argument("--password-file", metavar="FILE", help="a file holding the password")
    demo = commands.add_parser(
        "demo",
        help="fill a batchgate with simulated jobs, to see the dashboards in a minute",
        description="Run simulated jobs (ETL, analytics, backups, reports, a computation; some "
        "fail, one is stuck, one is killed, one runs too long, one misses its schedule) through "
        "the client SDK against --url, or against a server it starts on a temporary data "
        "directory. See the README, 'See it in 1 minute'.",
    )
    from batchgate.collector.demo.run import parse_args as demo_arguments

    demo_arguments(demo)
    silence = commands.add_parser(
        "silence",
        help="silence alerts for a while (a job's, from its own host), or end a silence",
        description="Post a silence to a batchgate (POST /silences, audited there): "
        "batchgate silence --job 'etl_*' --for 2h; end it with --expire ID.",
    )
    from batchgate.collector.silence_command import add_arguments as silence_arguments

    silence_arguments(silence)
    discover = commands.add_parser(
        "discover",
        help="rules and batchgate run wrappers for the cron jobs a machine already has",
        description="Read crontabs (crontab -l, /etc/crontab, /etc/cron.d/*) or Kubernetes "
        "CronJob manifests and print a rules file: a missed rule per entry, with the "
        "batchgate run wrapper for its command in a comment.",
    )
    from batchgate.collector.discover import add_arguments as discover_arguments

    discover_arguments(discover)
    commands.add_parser(
        "check-rules",
        help="validate rule files offline: exit 0, or print file:line: reason for each error",
        description="See 'batchgate check-rules --help'.",
        add_help=False,
    )
    commands.add_parser(
        "run",
        help="run a command and report its run (start, heartbeats, progress, exit code)",
        description="See 'batchgate run --help'.",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # `run` takes a command with flags of its own after `--`: it parses its arguments
    # itself, and must not load the server's dependencies.
    if args[:1] == ["run"]:
        from batchgate.client.run import main as run_main

        return run_main(args[1:])
    if args[:1] == ["check-rules"]:
        from batchgate.rules.check import main as check_rules

        return check_rules(args[1:])
    parser = build_parser()
    parsed = parser.parse_args(args)
    if parsed.command == "serve":
        return _serve(parsed)
    if parsed.command == "migrate":
        return _migrate(parsed)
    if parsed.command == "discover":
        from batchgate.collector.discover import run as discover_run

        return discover_run(parsed)
    if parsed.command == "silence":
        from batchgate.collector.silence_command import run as silence

        return silence(parsed)
    if parsed.command == "demo":
        from batchgate.collector.demo.run import main as demo

        return demo(parsed.url, parsed.listen, parsed.duration, parsed.seed)
    parser.print_help()
    return 2


def _serve(parsed: argparse.Namespace) -> int:
    from batchgate.collector.http.server import serve
    from batchgate.collector.settings import ConfigError, load_settings

    flags = {
        "listen": parsed.listen,
        "data_dir": parsed.data_dir,
        "store.url": parsed.store_url,
        "config": parsed.config,
        "logging.level": parsed.log_level,
        "logging.format": parsed.log_format,
        "durability": parsed.durability,
        "rules": parsed.rules,
        "pushgateway.expire_after": parsed.push_expire_after,
        "route_prefix": parsed.route_prefix,
        "http.fast_path": parsed.http_fast_path,
        "tls.cert_file": parsed.tls_cert,
        "tls.key_file": parsed.tls_key,
        "ha.lease": parsed.ha_lease,
        "ha.node_name": parsed.ha_node_name,
        "ha.advertise_url": parsed.ha_advertise_url,
    }
    try:
        settings = load_settings(flags, os.environ)
    except ConfigError as error:
        for problem in error.problems:
            print(f"batchgate: {problem}", file=sys.stderr)
        return 1
    from batchgate.collector.alerting.loading import load_ruleset
    from batchgate.rules import ConfigErrors

    try:
        ruleset = load_ruleset(settings.alerting)
    except ConfigErrors as failed:
        for rule_error in failed.errors:
            print(f"batchgate: {rule_error}", file=sys.stderr)
        return 1
    if parsed.check_config:
        print(
            f"batchgate: settings are valid (listen {settings.listen}, data {settings.data_dir}, "
            f"{_count(len(ruleset), 'rule')}, "
            f"{_count(len(settings.alerting.receivers), 'receiver')})"
        )
        return 0
    from batchgate.collector.observability.logs import setup_logging

    setup_logging(settings.logging.level, settings.logging.format)
    return serve(settings)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _migrate(parsed: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from batchgate.collector.storage.postgres.copy import CopyRefused, copy_to
    from batchgate.collector.storage.postgres.url import check_url, masked

    try:
        url = check_url(parsed.to_url)
    except ValueError as error:
        print(f"batchgate: --to: {error}", file=sys.stderr)
        return 2

    def progress(table: str, done: int, total: int) -> None:
        if done == 0 or done == total or done % 100_000 == 0:
            print(f"{table}: {done:,} of {total:,} rows", file=sys.stderr, flush=True)

    password_file = Path(parsed.password_file) if parsed.password_file else None
    try:
        copied = asyncio.run(copy_to(Path(parsed.from_dir), url, password_file, progress))
    except CopyRefused as error:
        print(f"batchgate: {error}", file=sys.stderr)
        return 1
    print(
        f"batchgate: copied {sum(copied.values()):,} rows ({copied['runs']:,} runs of "
        f"{copied['jobs']:,} jobs) from {parsed.from_dir} to {masked(url)}"
    )
    return 0
