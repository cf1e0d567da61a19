"""The `batchgate` command (and `python -m batchgate`).

`batchgate run` needs only the client, so it works where only `batchgate-client` is
installed; every other command is the server's (`batchgate.collector.cli`), present once
the `batchgate` distribution is installed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

USAGE = "usage: batchgate run --job NAME [options] -- COMMAND [ARGS...]"
SERVER_COMMANDS = ("serve", "demo", "check-rules", "migrate", "silence", "discover")
"""Every command of `batchgate.collector.cli` but `run` (tests/client/test_server_commands.py)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if importlib.util.find_spec("batchgate.collector") is not None:
        from batchgate.collector.cli import main as server

        return server(args)
    return client_only(args)


def client_only(args: list[str]) -> int:
    """The command where only `batchgate-client` is installed: `run`, `--version`, help."""
    if args[:1] == ["run"]:
        from batchgate.client.run import main as run

        return run(args[1:])
    if args[:1] == ["--version"]:
        from batchgate import __version__

        print(f"batchgate {__version__}")
        return 0
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        print("Run `batchgate run --help` for the options. The server's commands")
        print(f"({', '.join(SERVER_COMMANDS)}) come with the server: pip install batchgate")
        return 0
    if args[:1] and args[0] in SERVER_COMMANDS:
        print(
            f"batchgate: '{args[0]}' is a command of the server, and only the client "
            "(batchgate-client) is installed here; install the server: pip install batchgate",
            file=sys.stderr,
        )
        return 2
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
