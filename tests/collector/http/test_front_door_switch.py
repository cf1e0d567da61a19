"""`http.fast_path` turns the front door off (config file, BATCHGATE_HTTP_FAST_PATH,
`batchgate serve --http.fast-path=false`): aiohttp then answers every request, pushes
too. The tests of the push routes run both ways (tests/conftest.py, BOTH_PATHS)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from batchgate.collector.http.app import create_app
from batchgate.collector.settings import ConfigError, Settings, load_settings
from tests.conftest import BOTH_PATHS
from tests.helpers import REPO, Client, Clock, Server, ServerProcess


def test_it_is_on_unless_turned_off_by_the_file_the_environment_or_a_flag() -> None:
    assert load_settings({}, {}).http_fast_path is True
    config = {"b.yaml": "http:\n  fast_path: false\n"}
    from_file = load_settings({"config": "b.yaml"}, {}, lambda path: config[path])
    assert from_file.http_fast_path is False
    assert load_settings({}, {"BATCHGATE_HTTP_FAST_PATH": "false"}).http_fast_path is False
    assert load_settings({"http.fast_path": "false"}, {}).http_fast_path is False
    on_again = load_settings({"http.fast_path": "true"}, {"BATCHGATE_HTTP_FAST_PATH": "false"})
    assert on_again.http_fast_path is True


def test_it_names_the_flag_of_a_value_that_is_not_a_boolean() -> None:
    with pytest.raises(ConfigError, match=re.escape("flag --http.fast-path: http.fast_path")):
        load_settings({"http.fast_path": "sometimes"}, {})


@pytest.mark.parametrize("fast_path", [True, False])
async def test_pushes_are_the_front_doors_or_aiohttps_as_the_switch_says(
    settings: Settings, clock: Clock, fast_path: bool, aiohttp_client: Any
) -> None:
    server = Server(create_app(replace(settings, http_fast_path=fast_path), clock=clock))
    client: Client = await aiohttp_client(server)
    response = await client.post("/push", json={"job": "switched", "event": "start", "run_id": "s"})
    assert (await response.json())["run_ids"] == ["s"]
    assert server.runner is not None
    assert server.runner.server is not None
    answered_by_aiohttp = server.runner.server.requests_count
    if fast_path:
        assert server.front_door is not None
        assert server.front_door.answered == 1
        assert answered_by_aiohttp == 0
    else:
        assert server.front_door is None
        assert answered_by_aiohttp == 1


def test_batchgate_serve_takes_the_flag(server_process: Callable[..., ServerProcess]) -> None:
    server = server_process("--http.fast-path=false")
    body = json.dumps({"job": "flagged", "event": "start", "run_id": "f1"}).encode()
    request = urllib.request.Request(
        f"{server.url}/push", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["run_ids"] == ["f1"]
    assert server.stop() == 0
    assert "http.fast_path is false: aiohttp answers every request" in server.log.read_text()


def test_every_file_that_runs_both_ways_exists() -> None:
    assert [path for path in sorted(BOTH_PATHS) if not (REPO / path).is_file()] == []
