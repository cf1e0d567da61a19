"""`batchgate silence --job 'etl_*' --for 2h`: a silence posted from a shell mutes the jobs it
names, is audited by the server, and `--expire` ends it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable

from batchgate.collector.cli import build_parser
from batchgate.collector.silence_command import run
from tests.helpers import Client, Clock, get, push


async def _silence(client: Client, clock: Clock, *args: str) -> tuple[int, str, str]:
    parsed = build_parser().parse_args(["silence", "--url", str(client.make_url("/")), *args])
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, parsed, out, err, clock.now)
    return code, out.getvalue().strip(), err.getvalue().strip()


async def test_it_silences_the_jobs_of_a_glob_for_a_while_and_expires(
    start: Callable[..., Awaitable[Client]], clock: Clock
) -> None:
    client = await start()
    code, silence_id, _ = await _silence(
        client, clock, "--job", "etl_*", "--for", "2h", "--author", "ops@db1", "--comment", "reload"
    )
    assert code == 0

    (listed,) = await get(client, "/silences")
    assert listed["id"] == silence_id
    assert listed["matchers"] == [
        {"name": "job", "value": "etl_.*", "isRegex": True, "isEqual": True}
    ]
    assert (listed["createdBy"], listed["comment"]) == ("ops@db1", "reload")
    assert listed["endsAt"] == "2023-11-15T00:13:20Z"  # two hours after the server's now

    await push(client, {"job": "etl_orders", "event": "fail"})
    await push(client, {"job": "backup", "event": "fail"})
    alerts = (await get(client, "/alerts"))["alerts"]
    assert {(a["job"], a["silenced"]) for a in alerts} == {("etl_orders", True), ("backup", False)}
    audit = (await get(client, "/audit"))["entries"]
    assert [entry["action"] for entry in audit][-1:] == ["silence.create"]

    code, said, _ = await _silence(client, clock, "--expire", silence_id)
    assert (code, said) == (0, f"{silence_id} expired")


async def test_bad_options_and_refusals_are_said_with_an_exit_status(
    start: Callable[..., Awaitable[Client]], clock: Clock
) -> None:
    client = await start()
    assert await _silence(client, clock, "--job", "etl") == (
        2, "", "batchgate silence: say for how long: --for 2h",
    )  # fmt: skip
    assert await _silence(client, clock, "--for", "2h") == (
        2, "", "batchgate silence: say what to silence: --job, --label or --matcher",
    )  # fmt: skip
    assert (await _silence(client, clock, "--job", "x", "--for", "2 hours"))[0] == 2
    code, _, said = await _silence(client, clock, "--expire", "no-such-silence")
    assert code == 1
    assert said.startswith("batchgate silence: the server answered 404: no silence")
