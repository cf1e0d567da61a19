"""The `batchgate` command line: help, version, bad flags and bad data directories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import IMPORT_ROOT, REPO


def batchgate(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchgate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_it_describes_every_serve_flag() -> None:
    top = batchgate("--help")
    assert top.returncode == 0
    assert "serve" in top.stdout
    serve = batchgate("serve", "--help")
    assert serve.returncode == 0
    for flag in ("--listen", "--data-dir", "--config", "--log-level", "--log-format",
                 "--durability", "--check-config"):  # fmt: skip
        assert flag in serve.stdout
    assert ":9091" in serve.stdout
    assert "./batchgate-data" in serve.stdout


def test_it_prints_its_version() -> None:
    from batchgate.collector import __version__

    result = batchgate("--version")
    assert result.stdout.strip() == f"batchgate {__version__}"


def test_it_refuses_a_bad_flag_in_one_line() -> None:
    result = batchgate("serve", "--listne", ":1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unrecognized arguments: --listne" in lines[0]


def test_it_refuses_a_bad_listen_address_in_one_line() -> None:
    result = batchgate("serve", "--listen", "localhost", "--check-config")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "batchgate: flag --listen: listen: 'localhost' is not HOST:PORT "
        "(for example :9091 or 127.0.0.1:9091)"
    ]


def test_it_names_a_port_out_of_range() -> None:
    result = batchgate("serve", "--listen", "127.0.0.1:99999", "--check-config")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "batchgate: flag --listen: listen: '127.0.0.1:99999': the port must be between 0 and 65535"
    ]


def test_it_lists_every_problem_of_a_config_file_one_a_line(tmp_path: Path) -> None:
    config = tmp_path / "batchgate.yaml"
    config.write_text("listen: nowhere\nruns:\n  lost_after: 5x\nretention:\n  days: 3\n")
    result = batchgate("serve", "--config", str(config), "--check-config")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1:3] for line in lines] == [
        [f"{config}:1", "listen"],
        [f"{config}:3", "runs.lost_after"],
        [f"{config}:5", "retention.days"],
    ], result.stderr
    assert all(line.startswith("batchgate: ") for line in lines)


def test_it_refuses_an_unusable_data_directory_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    result = batchgate("serve", "--listen", "127.0.0.1:0", "--data-dir", str(blocker / "data"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("batchgate: cannot use data directory")
    assert str(blocker) in lines[0]


def test_it_stops_cleanly_on_sigterm(server_process: object) -> None:
    server = server_process()  # type: ignore[operator]
    assert server.stop() == 0
    assert "stopped" in server.log.read_text()


def test_batchgate_run_needs_none_of_the_servers_packages(tmp_path: Path) -> None:
    # -S: no site-packages, so aiohttp and friends cannot be imported on this path.
    import os

    result = subprocess.run(
        [sys.executable, "-S", "-m", "batchgate", "run", "--job", "wrapped", "--",
         sys.executable, "-c", "import sys; print('ran'); sys.exit(3)"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": IMPORT_ROOT, "BATCHGATE_URL": "http://127.0.0.1:9",
             "BATCHGATE_SPOOL_DIR": "off"},
        check=False,
    )  # fmt: skip
    assert result.stdout == "ran\n"
    assert result.returncode == 3, result.stderr


def test_check_rules_accepts_good_files_and_names_errors_in_bad_ones(tmp_path: Path) -> None:
    assert batchgate("check-rules", "rules/default_rules.yaml").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: Slow\n    kind: duration\n    above: soon\n")
    result = batchgate("check-rules", str(bad))
    assert result.returncode == 1
    assert f"{bad}:4:" in result.stderr


def test_it_warns_at_start_when_anyone_may_push(
    server_process: object,
) -> None:
    server = server_process()  # type: ignore[operator]
    server.stop()
    assert "no auth tokens configured" in server.log.read_text()
