"""docs/examples/bullmq/bridge.mjs against the real thing: BullMQ from npm, a Redis
(Debian's redis-server on a free port), a real BullMQ worker in Node, and a real collector.
Jobs succeed, fail and are retried; batchgate's API says so."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import WORKTREE, Collector, get_json, wait_until
from tests.client.test_celery_against_a_real_worker import redis_url  # noqa: F401 (a fixture)
from tests.helpers import need_program

BRIDGE = WORKTREE / "docs" / "examples" / "bullmq"

WORK = """
import { Queue, Worker } from "bullmq";

const redis = new URL(process.env.REDIS_URL);
const connection = { host: redis.hostname, port: Number(redis.port) };
const queue = new Queue("emails", { connection });
const ids = {};
for (let n = 0; n < 3; n++) ids[`send${n}`] = (await queue.add("send_email", { n })).id;
ids.check = (await queue.add("check_user", {})).id;
ids.flaky = (await queue.add("flaky", {}, { attempts: 3 })).id;
const worker = new Worker("emails", async (job) => {
  if (job.name === "check_user") throw new Error("no such user");
  if (job.name === "flaky" && job.attemptsMade < 2) {
    throw new Error(`smtp down (attempt ${job.attemptsMade + 1})`);
  }
  return "ok";
}, { connection, concurrency: 1 });
const done = new Set();
await new Promise((resolve) => {
  const mark = (job) => {
    done.add(job.id);
    if (done.size >= 5) resolve();
  };
  worker.on("completed", mark);
  worker.on("failed", (job) => {
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) mark(job);
  });
});
await worker.close();
await queue.close();
console.log(JSON.stringify(ids));
"""


def test_the_bridge_reports_bullmq_jobs(
    tmp_path: Path,
    redis_url: str,  # noqa: F811 (the fixture)
    collector: Collector,
) -> None:
    node = need_program("node")
    npm = need_program("npm")
    folder = tmp_path / "bullmq"
    folder.mkdir()
    for name in ("package.json", "bridge.mjs"):
        shutil.copy(BRIDGE / name, folder / name)
    installed = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if installed.returncode != 0:
        pytest.skip(f"npm could not install bullmq: {installed.stderr[-300:]}")
    (folder / "work.mjs").write_text(textwrap.dedent(WORK))
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url, "BATCHGATE_URL": collector.url,
           "DEPTH_EVERY_MS": "300"}  # fmt: skip
    log = (tmp_path / "bridge.log").open("wb")
    bridge = subprocess.Popen([node, "bridge.mjs", "emails"], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until(lambda: get_json(f"{collector.url}/queues")["queues"], 30, "the bridge's report")
        work = subprocess.run([node, "work.mjs"], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=120, check=True)  # fmt: skip
        ids: dict[str, str] = __import__("json").loads(work.stdout.strip().splitlines()[-1])

        def finished(run_id: str) -> dict[str, Any]:
            return collector.wait_for_run(
                run_id, lambda run: run["status"] in ("succeeded", "failed"), timeout=30
            )

        for n in range(3):
            run = finished(ids[f"send{n}"])
            assert (run["job"], run["status"], run["queue"]) == (
                "send_email",
                "succeeded",
                "emails",
            )
            assert run["wait_seconds"] is not None
        failed = finished(ids["check"])
        assert (failed["job"], failed["status"], failed["message"]) == (
            "check_user", "failed", "no such user"
        )  # fmt: skip
        retried = finished(ids["flaky"])
        assert retried["status"] == "succeeded"
        assert [(a["attempt"], a["outcome"]) for a in retried["attempts"]] == [
            (1, "retry"), (2, "retry"), (3, "succeeded")
        ]  # fmt: skip
        assert retried["attempts"][0]["message"] == "Error: smtp down (attempt 1)"
        assert retried["attempts"][1]["message"] == "Error: smtp down (attempt 2)"
        queue = wait_until(
            lambda: (q := get_json(f"{collector.url}/queues/emails"))["last_hour"]["completed"] == 4
            and q, 10, "the queue's counts",
        )  # fmt: skip
        assert queue["last_hour"] == {"completed": 4, "failed": 1, "retried": 2, "cancelled": 0}
        assert queue["paused"] is False
    finally:
        bridge.terminate()
        bridge.wait(30)
        log.close()
