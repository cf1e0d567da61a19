"""Under a route prefix (--web.route-prefix), every link, script, form and event stream of the
pages points under the prefix: the pages' URLs are relative to their <base>."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urljoin, urlsplit

from tests.collector.dashboard.page import parse
from tests.helpers import Client

PAGES = ("/pgw/", "/pgw/ui/jobs", "/pgw/ui/jobs/etl", "/pgw/ui/runs/r1", "/pgw/ui/alerts",
         "/pgw/ui/groups")  # fmt: skip


async def test_every_url_of_the_pages_is_under_the_prefix(
    start: Callable[..., Awaitable[Client]],
) -> None:
    client = await start(route_prefix="/pgw")
    response = await client.post("/pgw/push", json={"job": "etl", "event": "fail", "run_id": "r1"})
    assert response.status == 200
    assert (await client.get("/ui/jobs")).status == 404
    for path in PAGES:
        response = await client.get(path)
        assert response.status == 200, path
        document = parse(await response.text())
        base = document.one("base").attrs["href"]
        assert base == "/pgw/"
        urls = [e.attrs["href"] for e in document.all("a") if "href" in e.attrs]
        urls += [e.attrs["href"] for e in document.all("link")]
        urls += [e.attrs["src"] for e in document.all("script")]
        urls += [e.attrs["action"] for e in document.all("form") if "action" in e.attrs]
        for url in urls:
            target = urlsplit(urljoin(f"http://batchgate{base}", url))
            assert target.path.startswith("/pgw/"), (path, url)
            if target.path.endswith(("/metrics", "/openapi.json", "/health")):
                continue  # answered, but not pages of the dashboard
            answer = await client.get(target.path, params=dict(parse_qsl(target.query)))
            assert answer.status == 200, (path, url, answer.status)
        events = urljoin(f"http://batchgate{base}", document.one("body").attrs["data-events"])
        assert urlsplit(events).path == "/pgw/events"
