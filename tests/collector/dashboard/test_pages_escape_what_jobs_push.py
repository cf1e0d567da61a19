"""What jobs push (names are safe, but label values and messages are any text) is shown as
text, never run as HTML."""

from __future__ import annotations

from tests.collector.dashboard.page import page
from tests.helpers import Client, push

EVIL = '<script>alert("x")</script>'


async def test_label_values_and_messages_are_escaped(client: Client) -> None:
    await push(client, {"job": "etl", "labels": {"owner": EVIL}, "event": "fail",
                        "run_id": "r1", "message": EVIL, "metrics": {"rows": 1}})  # fmt: skip
    for path in ("/", "/ui/jobs", "/ui/jobs/etl", "/ui/runs/r1"):
        response = await client.get(path)
        html = await response.text()
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert" in html, path
    document = await page(client, "/ui/jobs")
    assert EVIL in document.text
