"""The dashboard's CSS and JS: served from the package, cached by content hash, and nothing
anywhere is loaded from the internet."""

from __future__ import annotations

import re
from importlib import resources

from tests.collector.dashboard.page import page
from tests.helpers import Client

WEB = resources.files("batchgate.collector.http.web")


async def test_pages_link_versioned_files_that_are_served(client: Client) -> None:
    document = await page(client, "/")
    links = [e.attrs["href"] for e in document.all("link")] + [
        e.attrs["src"] for e in document.all("script")
    ]
    assert {link.split("?")[0] for link in links} >= {
        "ui/static/dashboard.css", "ui/static/dashboard.js", "ui/static/favicon.svg",
    }  # fmt: skip
    for link in links:  # relative to the page's <base href="/">
        response = await client.get(f"/{link}")
        assert response.status == 200, link
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        etag = response.headers["ETag"]
        again = await client.get(link, headers={"If-None-Match": etag})
        assert again.status == 304


async def test_an_unversioned_file_must_be_revalidated(client: Client) -> None:
    response = await client.get("/ui/static/dashboard.js")
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert (await client.get("/ui/static/nope.js")).status == 404
    assert (await client.get("/ui/static/..%2Fpages.py")).status == 404


def test_nothing_is_loaded_from_the_internet() -> None:
    remote = re.compile(
        r"""(src|href|action)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import"""
        r"""|fetch\(\s*["'`]https?:|EventSource\(\s*["'`]https?:"""
    )
    for folder in ("templates", "static"):
        for entry in WEB.joinpath(folder).iterdir():
            text = entry.read_text(encoding="utf-8")
            assert not remote.search(text), f"{folder}/{entry.name} loads something remote"
