"""With only the client installed, every command of the server says to install the server,
and the client's list of them is the server's own."""

from __future__ import annotations

import re

import pytest

from batchgate.__main__ import SERVER_COMMANDS, client_only
from batchgate.collector.cli import build_parser


def test_the_client_lists_every_command_of_the_server_but_run() -> None:
    # The commands as `batchgate --help` lists them, one a line under COMMAND.
    listed = build_parser().format_help().split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    commands = set(re.findall(r"^ {4}(\S+)", listed, re.MULTILINE))
    assert set(SERVER_COMMANDS) == commands - {"run"}


@pytest.mark.parametrize("command", ["silence", "discover", "serve"])
def test_a_server_command_with_only_the_client_says_to_install_the_server(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert client_only([command, "--help"]) == 2
    error = capsys.readouterr().err
    assert f"'{command}' is a command of the server" in error
    assert "pip install batchgate" in error
