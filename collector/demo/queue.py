"""The demo's task queue: `emails`, which backs up and drains.

A producer queues a burst of `app.tasks.send_email` tasks every two minutes; one worker
takes them one at a time, a second or so each, so the queue backs up after each burst and
drains before the next. One task in ten fails its first attempt and is retried. Events go
through the SDK's sender, as the Celery and RQ integrations send theirs.
"""

from __future__ import annotations

import collections
import random
import threading
import time
import uuid
from typing import Any

from batchgate.client.config import Connection
from batchgate.client.sender import sender_for

QUEUE = "emails"
TASK = "app.tasks.send_email"
BURST = 60
"""Tasks queued at once."""
EVERY = 120.0
"""Seconds between two bursts."""


def run_queue(connection: Connection, stop: threading.Event, rng: random.Random) -> None:
    """Queue bursts and work them off until `stop` is set."""
    sender = sender_for(connection)

    def send(**event: Any) -> None:
        sender.enqueue({"job": TASK, "queue": QUEUE, "timestamp": round(time.time(), 6), **event})

    waiting: collections.deque[str] = collections.deque()
    next_burst = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_burst:
            for _ in range(BURST):
                run_id = uuid.uuid4().hex
                waiting.append(run_id)
                send(event="queued", run_id=run_id, max_attempts=3)
            next_burst = time.monotonic() + EVERY
        if not waiting:
            stop.wait(1.0)
            continue
        run_id = waiting.popleft()
        send(event="start", run_id=run_id, attempt=1)
        if stop.wait(rng.uniform(0.5, 1.5)):
            return
        if rng.random() < 0.1:
            send(event="retry", run_id=run_id, message="SMTPServerDisconnected: try again")
            if stop.wait(0.5):
                return
            send(event="start", run_id=run_id, attempt=2)
            if stop.wait(rng.uniform(0.5, 1.0)):
                return
        send(event="success", run_id=run_id)
