"""The floor under every push: what one aiohttp process does with a handler doing nothing.

    python bench/http_floor.py [--seconds 10]

In one run, with the same wrk scripts as bench/push.py and bench/pushgateway.py (one wrk
thread, 16 connections, loopback): a bare aiohttp app (the same C parser, no middleware,
no access log) whose POST handler reads the body and answers a small JSON object; batchgate
taking single progress events; and Debian's prometheus-pushgateway with its consistency
check off. Whatever batchgate does per push (validation, state, a durable commit, metrics,
the access log) comes on top of the bare app's cost, so the bare app's rate bounds how
close to the Pushgateway's a single aiohttp event loop can come.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from harness import batchgate, free_port, machine, pushgateway, wait_http, wrk
from push import JOBS, populate_groups, populate_jobs

BARE_APP = """
import sys
from aiohttp import web

async def accept(request):
    await request.read()
    return web.json_response({"accepted": 1})

app = web.Application()
app.router.add_post("/push", accept)
app.router.add_route("*", "/metrics/job/{rest:.*}", accept)
app.router.add_get("/-/ready", accept)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    seconds = parser.parse_args().seconds
    rates: dict[str, float] = {}

    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/-/ready")
        rates["bare aiohttp: POST /push (a progress event)"] = wrk(
            url, "batchgate_progress", seconds, env={"JOBS": str(JOBS)}
        ).requests_per_second
        rates["bare aiohttp: POST /metrics/job/... (8-family text)"] = wrk(
            url, "pushgateway_text", seconds, env={"GROUPS": "1000"}
        ).requests_per_second
    finally:
        bare.terminate()
        bare.wait(10)
    with batchgate() as server:
        populate_jobs(server.url)
        rates["batchgate: POST /push (a progress event, 10k jobs)"] = wrk(
            server.url, "batchgate_progress", seconds, env={"JOBS": str(JOBS)}
        ).requests_per_second
    with pushgateway("--push.disable-consistency-check") as server:
        populate_groups(server.url)
        unchecked = wrk(
            server.url, "pushgateway_text", seconds, env={"GROUPS": "1000"}
        ).requests_per_second
    rates["pushgateway --push.disable-consistency-check (8-family text)"] = unchecked

    print(f"Machine: {machine()}; wrk -t1 -c16 -d{seconds}s on loopback.\n")
    print("| server | requests/s | / pushgateway unchecked |")
    print("| --- | ---: | ---: |")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {rate / unchecked:.2f}x |")


if __name__ == "__main__":
    main()
