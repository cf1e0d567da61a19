"""What the dashboard's Queues pages show: each queue's figures (`core.queues`), and for
one queue the runs waiting in it now. Pure: the state and `now` come in."""

from __future__ import annotations

import fnmatch
import re
from typing import Any
from urllib.parse import quote

from batchgate.collector.core.api_json import queue_json, run_json
from batchgate.collector.core.queues import Queue, figures
from batchgate.collector.core.state import State
from batchgate.collector.http.web.pages import job_href, run_href

WAITING_SHOWN = 50
"""Runs waiting now that a queue's page lists, the longest waiting first."""


def queues_page(state: State, now: float, text: str = "") -> dict[str, Any]:
    """Every queue (whose name matches `text`, a glob or a part of it), in name order."""
    matches = _matcher(text)
    book = state.queues.queues
    rows = [_row(book[name], now) for name in sorted(book) if matches(name)]
    return {"queues": rows, "total": len(book), "text": text}


def queue_page(state: State, now: float, name: str) -> dict[str, Any] | None:
    """One queue's figures and the runs waiting in it now; None if no such queue."""
    queue = state.queues.queues.get(name)
    if queue is None:
        return None
    longest = sorted(queue.waiting.items(), key=lambda item: (item[1], item[0]))
    waiting = []
    for run_id, _ in longest[:WAITING_SHOWN]:
        run = state.find_run(run_id)
        if run is not None:
            shown = run_json(run, now, state.settings)
            shown["href"] = run_href(run.run_id)
            shown["job_href"] = job_href(run.job.name, run.job.labels)
            waiting.append(shown)
    return {"queue": _row(queue, now), "waiting": waiting, "more": len(longest) - len(waiting)}


def _row(queue: Queue, now: float) -> dict[str, Any]:
    shown = queue_json(figures(queue, now))
    shown["href"] = f"ui/queues/{quote(queue.name, safe='')}"
    hour = shown["last_hour"]
    finished = hour["completed"] + hour["failed"] + hour["cancelled"]
    shown["failure_rate"] = hour["failed"] / finished if finished else None
    shown["retry_rate"] = hour["retried"] / finished if finished else None
    return shown


def _matcher(text: str) -> Any:
    if not text:
        return lambda name: True
    pattern = text if any(c in text for c in "*?[") else f"*{text}*"
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE).match
