"""Configuration by arguments or BATCHGATE_* variables; mistakes in code raise at once."""

import pytest

from batchgate import Connection, Job
from tests.client.conftest import wait_until


def test_it_reads_url_token_and_labels_from_the_environment(receiver, monkeypatch):
    monkeypatch.setenv("BATCHGATE_URL", receiver.url)
    monkeypatch.setenv("BATCHGATE_TOKEN", "from-env")
    monkeypatch.setenv("BATCHGATE_LABELS", "env=prod, host=db1")
    with Job("backup", labels={"host": "db2", "tier": "gold"}):
        pass
    wait_until(lambda: receiver.of("success"))
    assert receiver.of("start")[0]["labels"] == {"env": "prod", "host": "db2", "tier": "gold"}
    assert receiver.headers[0]["Authorization"] == "Bearer from-env"


def test_it_lets_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("BATCHGATE_URL", "http://from-env:1")
    connection = Connection.resolve("http://from-argument:2/", token="tok-9f3a")
    assert connection.push_url == "http://from-argument:2/push"
    assert connection.token == "tok-9f3a"
    assert "tok-9f3a" not in repr(connection)  # the token never shows up in logs


def test_it_accepts_a_push_url_or_a_bare_host():
    assert Connection(url="collector:9091").push_url == "http://collector:9091/push"
    assert Connection(url="https://c.example/push").push_url == "https://c.example/push"


def test_it_defaults_to_the_local_collector():
    assert Connection.resolve().push_url == "http://127.0.0.1:9091/push"


def test_it_can_turn_the_spool_file_off(monkeypatch):
    monkeypatch.setenv("BATCHGATE_SPOOL_DIR", "off")
    assert Connection.resolve().spool_dir is None


@pytest.mark.parametrize(
    ("name", "labels", "run_id"),
    [
        ("nightly/etl", None, None),
        ("etl", {"__reserved": "x"}, None),
        ("etl", {"job": "x"}, None),
        ("etl", {"host": 1}, None),
        ("etl", None, "-starts-with-a-symbol"),
    ],
)
def test_it_raises_on_invalid_names_in_code(name, labels, run_id):
    with pytest.raises(ValueError):
        Job(name, labels=labels, run_id=run_id)


def test_it_ignores_malformed_environment_labels_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv("BATCHGATE_LABELS", "no-equals-sign")
    assert Job("etl").labels == {}
    assert "ignoring BATCHGATE_LABELS" in caplog.text
