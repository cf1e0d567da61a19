"""`batchgate check-rules FILE...`: exit codes and output."""

import io

from batchgate.rules.check import main
from batchgate.rules.kinds import KINDS


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_valid_files_exit_0_with_a_summary(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: A, kind: failure}\n  - {name: B, kind: lost}\n")

    assert _run(str(path)) == (0, f"{path}: 2 rules OK\n", "")


def test_errors_exit_1_with_file_line_reason_for_each(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("rules:\n  - {name: A, kind: failure}\n")
    bad.write_text("rules:\n  - {name: B, kind: stuk}\n  - {name: C, kind: failure, for: 5}\n")

    code, out, err = _run(str(good), str(bad))

    assert code == 1
    assert out == f"{good}: 1 rule OK\n"
    assert err.splitlines() == [
        f"{bad}:2: kind: unknown kind 'stuk' (one of: {', '.join(KINDS)})",
        f"{bad}:3: for: '5' needs a unit, e.g. 5s or 5m",
        "2 errors in 1 file",
    ]


def test_a_missing_file_exits_1(tmp_path):
    code, _, err = _run(str(tmp_path / "nope.yaml"))

    assert code == 1
    assert err.startswith(f"{tmp_path / 'nope.yaml'}:0: cannot read: ")


def test_no_file_is_a_usage_error_exit_2(capsys):
    assert _run()[0] == 2
    assert "usage: batchgate check-rules" in capsys.readouterr().err


def test_the_default_rules_file_passes(capsys):
    from importlib import resources

    path = resources.files("rules").joinpath("default_rules.yaml")

    assert _run(str(path))[0] == 0
