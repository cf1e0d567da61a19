"""Auth: every route tried with no token, a push token, a read token and an admin token;
basic auth for Pushgateway clients; tokens from hashes, the environment and files."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import basic_auth_handler, push_to_gateway

from batchgate.collector.auth import (
    ADMIN,
    OPEN,
    PUSH,
    READ,
    ROUTE_ROLES,
    Token,
    tokens_from_config,
)
from tests.helpers import Client, checked

Start = Callable[..., Awaitable[Client]]

SECRETS = {"pusher": "p-secret", "reader": "r-secret", "admin": "a-secret"}


def token(name: str, role: str, jobs: tuple[str, ...] = ("*",)) -> Token:
    return Token(name, role, hashlib.sha256(SECRETS[name].encode()).hexdigest(), jobs)


TOKENS = (token("pusher", PUSH, ("etl_*",)), token("reader", READ), token("admin", ADMIN))


@pytest.fixture
async def secured(start: Start) -> Client:
    return await start(tokens=TOKENS)


def bearer(name: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name]}"} if name else {}


EXAMPLES = {"job": "etl_orders", "run_id": "r1", "grouping": "job/etl_orders", "id": "x"}


def concrete(path: str) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: EXAMPLES.get(m.group(1), "x"), path)


def routes(client: Client) -> list[tuple[str, str, str]]:
    found = []
    for route in client.app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        found.append((route.method, concrete(route.resource.canonical), route.name or ""))
    return sorted(found)


def allowed(role: str | None, needed: str) -> bool:
    if needed == OPEN:
        return True
    return role in (ADMIN, needed)


async def status_of(client: Client, method: str, path: str, headers: dict[str, str]) -> int:
    body: dict[str, Any] = {}
    if path == "/push":
        body["json"] = {"job": "etl_orders", "event": "start"}
    elif path.startswith("/metrics/job"):
        body["data"] = b"# TYPE g gauge\ng 1\n"
    response = await client.request(method, path, headers=headers, **body)
    status = response.status
    response.close()
    return status


@pytest.mark.parametrize("who", [None, "pusher", "reader", "admin"])
async def test_every_route_answers_each_role_as_its_policy_says(
    secured: Client, who: str | None
) -> None:
    role = {None: None, "pusher": PUSH, "reader": READ, "admin": ADMIN}[who]
    wrong = []
    for method, path, name in routes(secured):
        needed = ROUTE_ROLES.get(name, ADMIN)
        status = await status_of(secured, method, path, bearer(who))
        if allowed(role, needed):
            expected_ok = status not in (401, 403)
        else:
            expected_ok = status == (401 if who is None else 403)
        if not expected_ok:
            wrong.append(f"{method} {path} ({name}, needs {needed}): {status}")
    assert wrong == [], f"as {who}: " + "; ".join(wrong)


def test_every_route_has_a_decided_role(client: Client) -> None:
    undecided = [name for _, _, name in routes(client) if name not in ROUTE_ROLES]
    assert undecided == [], "routes that fall back to admin: decide who may call them"


async def test_it_answers_401_with_a_challenge_and_403_naming_the_role(secured: Client) -> None:
    response = await secured.get("/jobs")
    refused = await checked(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert "authentication required" in refused["error"]
    bad = await checked(await secured.get("/jobs", headers={"Authorization": "Bearer nope"}), 401)
    assert bad["error"] == "invalid credentials"
    forbidden = await checked(await secured.delete("/jobs/etl", headers=bearer("reader")), 403)
    assert "needs admin" in forbidden["error"]


async def test_a_push_token_pushes_only_its_jobs(secured: Client) -> None:
    ok = await secured.post(
        "/push", json={"job": "etl_users", "event": "start"}, headers=bearer("pusher")
    )
    assert ok.status == 200
    refused = await checked(
        await secured.post(
            "/push",
            json=[{"job": "etl_users", "event": "progress"}, {"job": "billing", "event": "start"}],
            headers=bearer("pusher"),
        ),
        403,
    )
    assert "may not push job 'billing'" in refused["error"]
    jobs = await (await secured.get("/jobs", headers=bearer("reader"))).json()
    assert [j["job"] for j in jobs["jobs"]] == ["etl_users"], "nothing of the refused push"
    group = await secured.put("/metrics/job/billing", data=b"g 1\n", headers=bearer("pusher"))
    assert group.status == 403


async def test_pushgateway_clients_authenticate_with_basic_auth(secured: Client) -> None:
    def handler(url: str, method: str, timeout: Any, headers: Any, data: bytes) -> Any:
        return basic_auth_handler(url, method, timeout, headers, data, "pusher", "p-secret")

    registry = CollectorRegistry()
    Gauge("loaded", "Rows loaded.", registry=registry).set(3)
    gateway = f"http://{secured.host}:{secured.port}"
    await asyncio.to_thread(push_to_gateway, gateway, "etl_nightly", registry, handler=handler)
    scrape = await secured.get("/metrics", headers=bearer("reader"))
    assert 'loaded{instance="",job="etl_nightly"} 3' in await scrape.text()

    def wrong(url: str, method: str, timeout: Any, headers: Any, data: bytes) -> Any:
        return basic_auth_handler(url, method, timeout, headers, data, "reader", "p-secret")

    with pytest.raises(OSError, match="401"):
        await asyncio.to_thread(push_to_gateway, gateway, "etl_nightly", registry, handler=wrong)


async def test_admin_actions_are_audited(secured: Client) -> None:
    await secured.post("/push", json={"job": "etl_x", "event": "start"}, headers=bearer("admin"))
    await secured.delete("/jobs/etl_x", headers=bearer("admin"))
    await secured.put("/api/v1/admin/wipe", headers=bearer("admin"))
    silence = {
        "matchers": [{"name": "job", "value": "etl_x", "isRegex": False}],
        "startsAt": "2023-11-14T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "alice",
        "comment": "maintenance",
    }
    created = await checked(await secured.post("/silences", json=silence, headers=bearer("admin")))
    await secured.post("/-/reload", headers=bearer("admin"))
    entries = (await checked(await secured.get("/audit", headers=bearer("admin"))))["entries"]
    assert [(e["who"], e["action"], e["target"]) for e in entries] == [
        ("admin", "reload", "rules and receivers"),
        ("admin", "silence.create", created["silenceID"]),
        ("admin", "pushgateway.wipe", "every group"),
        ("admin", "job.delete", "etl_x"),
    ]
    assert entries[1]["details"]["comment"] == "maintenance"


def test_tokens_come_from_a_hash_the_environment_or_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "admin-token"
    secret_file.write_text("from-a-file\n")
    tokens = tokens_from_config(
        [
            {
                "name": "ci-pusher",
                "role": "push",
                "jobs": ["etl_*"],
                "token_sha256": hashlib.sha256(b"test").hexdigest(),
            },
            {"name": "grafana", "role": "read", "token_env": "BATCHGATE_READ_TOKEN"},
            {"name": "oncall", "role": "admin", "token_file": str(secret_file)},
        ],
        {"BATCHGATE_READ_TOKEN": "from-env"},
        lambda path: Path(path).read_text(),
    )
    assert [(t.name, t.role) for t in tokens] == [
        ("ci-pusher", "push"), ("grafana", "read"), ("oncall", "admin"),
    ]  # fmt: skip
    assert tokens[1].sha256 == hashlib.sha256(b"from-env").hexdigest()
    assert tokens[2].sha256 == hashlib.sha256(b"from-a-file").hexdigest()


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"name": "a", "role": "root", "token_env": "X"}, "role must be one of"),
        ({"name": "a", "role": "read"}, "exactly one of"),
        ({"name": "a", "role": "read", "token_env": "MISSING"}, "MISSING is not set"),
        ({"name": "a", "role": "read", "token_sha256": "abc"}, "64 hex digits"),
        ({"name": "a", "role": "read", "jobs": ["x"], "token_env": "X"}, "only applies to"),
        ({"name": "a b", "role": "read", "token_env": "X"}, "name must be"),
    ],
)
def test_a_bad_token_entry_is_named(entry: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        tokens_from_config([entry], {"X": "secret"}, lambda path: "")
