"""The floor under every push: what one Python process does with a handler doing nothing.

    python bench/http_floor.py [--seconds 10]

In one run, with the same wrk script as bench/push.py (one wrk thread, 16 connections,
loopback), POST /push with a progress event against a ladder of servers, each doing less
than the next: an asyncio Protocol that finds each request's end by hand and writes a fixed
answer (the event loop and the sockets, nothing else); aiohttp's low-level `web.Server`
(its parser, request and response objects, no application) answering fixed bytes; a bare
aiohttp application (routing, `json_response`; no middleware, no access log); then
batchgate taking the events; and Debian's prometheus-pushgateway with its consistency
check off, taking its 8-family text push. batchgate answers plain pushes in its own front
door (collector/http/front_door.py), not through aiohttp's application: what it does per push
(reading the request, validation, state, a durable commit, metrics, the access log) comes
on top of the first floor's cost, not the third's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from harness import batchgate, free_port, machine, pushgateway, wait_http, wrk
from push import JOBS, populate_groups, populate_jobs

PROTOCOL = """
import asyncio, sys

ANSWER = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
          b"Content-Length: 15\\r\\n\\r\\n" b'{"accepted": 1}')

class Floor(asyncio.Protocol):
    # Enough HTTP for wrk's requests: Content-Length bodies, keep-alive. Not a server.
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\\r\\n\\r\\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\\r\\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(ANSWER)

async def serve():
    loop = asyncio.get_running_loop()
    await loop.create_server(Floor, "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()

asyncio.run(serve())
"""

LOW_LEVEL = """
import asyncio, sys
from aiohttp import web

async def accept(request):
    await request.read()
    return web.Response(body=b'{"accepted": 1}', content_type="application/json")

async def serve():
    runner = web.ServerRunner(web.Server(accept, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    await asyncio.Event().wait()

asyncio.run(serve())
"""

BARE_APP = """
import sys
from aiohttp import web

async def accept(request):
    await request.read()
    return web.json_response({"accepted": 1})

app = web.Application()
app.router.add_post("/push", accept)
app.router.add_get("/-/ready", accept)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

FLOORS = {
    "asyncio Protocol, requests framed by hand, a fixed answer": PROTOCOL,
    "aiohttp low-level web.Server, a fixed answer": LOW_LEVEL,
    "bare aiohttp application, json_response": BARE_APP,
}


def floor_rate(program: str, seconds: int) -> float:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", program, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/-/ready")
        return wrk(url, "batchgate_progress", seconds, env={"JOBS": str(JOBS)}).requests_per_second
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    seconds = parser.parse_args().seconds
    rates: dict[str, float] = {}
    for name, program in FLOORS.items():
        rates[f"{name}: POST /push"] = floor_rate(program, seconds)
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
