"""`python -m client run ...`: the `batchgate run` wrapper where only `client` is installed."""

from __future__ import annotations

import sys

USAGE = "usage: python -m client run --job NAME [options] -- COMMAND [ARGS...]"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        from client.run import main as run

        return run(args[1:])
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        print("Run `python -m client run --help` for the options.")
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
