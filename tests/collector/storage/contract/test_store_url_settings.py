"""Choosing the store: `store.url` in the file, BATCHGATE_STORE_URL, `--store-url`; SQLite
when none is set. A URL's password is never shown, whatever is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from batchgate.collector.settings import ConfigError, Settings, load_settings
from batchgate.collector.storage.open import store_for
from batchgate.collector.storage.postgres.store import PostgresStore
from batchgate.collector.storage.postgres.url import masked
from batchgate.collector.storage.sqlite.store import SqliteStore
from tests.helpers import REPO

FILE_URL = "postgresql://file:s3cret-file@db.example:5432/batchgate"
ENV_URL = "postgresql://env:s3cret-env@db.example/batchgate"
FLAG_URL = "postgres://flag:s3cret-flag@127.0.0.1:6543/history?sslmode=disable"


def _read(text: str) -> object:
    return lambda path: text


def test_sqlite_in_the_data_directory_when_no_url_is_set(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": str(tmp_path)}, {})
    assert settings.store_url is None
    store = store_for(settings)
    assert isinstance(store, SqliteStore)
    assert store.path.parent == tmp_path


def test_the_file_then_the_environment_then_the_flag() -> None:
    config = {"config": "b.yaml"}
    text = f"store:\n  url: {FILE_URL}\n  password_file: /run/secrets/db\n"
    settings = load_settings(config, {}, _read(text))
    assert settings.store_url == FILE_URL
    assert settings.store_password_file == Path("/run/secrets/db")
    env = {"BATCHGATE_STORE_URL": ENV_URL}
    assert load_settings(config, env, _read(text)).store_url == ENV_URL
    flags = {**config, "store.url": FLAG_URL}
    settings = load_settings(flags, env, _read(text))
    assert settings.store_url == FLAG_URL
    store = store_for(settings)
    assert isinstance(store, PostgresStore)
    assert store.url == "postgres://flag:***@127.0.0.1:6543/history?sslmode=disable"


def test_the_password_never_shows_in_the_settings() -> None:
    settings = load_settings({"store.url": FLAG_URL}, {})
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u:s3cret@h/db", "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
        ("postgresql://u:s3cret@h:port/db", "is not a URL"),
        ("postgresql://u:s3cret@h:5432", "name the database"),
    ],
)
def test_a_bad_url_is_named_without_its_password(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"store.url": url}, {})
    (problem,) = refused.value.problems
    assert problem.startswith("flag --store-url: store.url: ")
    assert reason in problem
    assert "s3cret" not in problem
    assert "***" in problem


def test_masking_covers_every_place_a_password_may_be() -> None:
    assert masked("postgresql://u:p%40ss@h:1/d") == "postgresql://u:***@h:1/d"
    assert masked("postgresql://u@h/d?password=p&sslmode=require") == (
        "postgresql://u@h/d?password=***&sslmode=require"
    )
    assert masked("postgresql://h/d") == "postgresql://h/d"
    assert masked("postgresql://u:p:still@h/d") == "postgresql://u:***@h/d"


def test_batchgate_serve_refuses_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    url = "postgresql://batchgate:s3cret-unreachable@127.0.0.1:1/batchgate"
    result = subprocess.run(
        [sys.executable, "-m", "batchgate", "serve", "--listen", "127.0.0.1:0",
         "--data-dir", str(tmp_path), "--store-url", url],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("batchgate: cannot use database postgresql://batchgate:***@")
    assert "Connect call failed" in lines[0]
    assert "s3cret" not in result.stderr + result.stdout


def test_every_setting_has_its_variable() -> None:
    settings = load_settings({}, {"BATCHGATE_STORE_PASSWORD_FILE": "/run/secrets/db"})
    assert settings.store_password_file == Path("/run/secrets/db")
    assert Settings().store_url is None
