"""`batchgate check-rules FILE...`: validate rule files offline.

Exit 0 when every file is valid; 1 with `file:line: reason` on stderr for every error; 2 on a
usage error. Like `promtool check rules`, it prints a summary per valid file on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from batchgate.rules.ruleset import collect_rules


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run check-rules on `argv` (the file names, without the command's own name)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="batchgate check-rules",
        description="Validate rule files: exit 0, or print file:line: reason for each error.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="a rules file (YAML)")
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    # The same loader as the server's, so what passes here loads there.
    rules, errors = collect_rules(arguments.files)
    for error in errors:
        print(error, file=err)
    failed = {error.file for error in errors}
    counts = Counter(rule.file for rule in rules)
    for name in arguments.files:
        if name not in failed:
            print(f"{name}: {_plural(counts[name], 'rule')} OK", file=out)
    if errors:
        print(f"{_plural(len(errors), 'error')} in {_plural(len(failed), 'file')}", file=err)
        return 1
    return 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


if __name__ == "__main__":
    raise SystemExit(main())
