"""4xx answers never raise into the job, are logged once, and are not retried as they are."""

import json
import logging
import threading
import time

from batchgate import Connection, Job, client
from batchgate.client.sender import Sender
from batchgate.client.transport import Response
from tests.client.conftest import fast_connection, wait_until

BAD_SECOND = {
    "error": "invalid push: event rejected, nothing applied",
    "details": [{"index": 1, "field": "metrics.x", "reason": "must be a finite number"}],
}


def event(event_id):
    return {"job": "etl", "event": "progress", "run_id": "r", "event_id": event_id}


def test_it_drops_only_the_events_the_collector_names_and_sends_the_rest(caplog):
    pushes = []
    first_push_may_answer = threading.Event()

    def transport(url, body, headers, timeout):
        events = json.loads(body)
        pushes.append([e["event_id"] for e in events])
        if len(pushes) == 1:
            first_push_may_answer.wait(5)  # hold the thread so the next three queue up together
        if len(pushes) == 2:
            return Response(400, json.dumps(BAD_SECOND).encode())
        return Response(200, b'{"accepted": 1}')

    sender = Sender(Connection(spool_dir=None), transport)
    sender.enqueue(event("a"))
    wait_until(lambda: pushes)
    for name in "bcd":
        sender.enqueue(event(name))
    first_push_may_answer.set()
    wait_until(lambda: len(pushes) == 3)
    assert pushes == [["a"], ["b", "c", "d"], ["b", "d"]]
    assert "refused 1 event(s), dropped: HTTP 400" in caplog.text
    assert "metrics.x: must be a finite number" in caplog.text
    sender.begin_close(time.monotonic() + 1)
    sender.finish_close(time.monotonic() + 1)


def test_it_logs_a_refused_token_once_and_carries_on(receiver, caplog):
    caplog.set_level(logging.WARNING, "batchgate.client")
    receiver.script.extend([(401, {"error": "missing or invalid bearer token"})] * 100)
    connection = fast_connection(receiver.url, token="wrong")
    for _ in range(3):
        with Job("etl", connection=connection, heartbeat=None):
            pass
        client.flush()
    assert receiver.requests >= 3
    assert caplog.text.count("HTTP 401") == 1
    # Refused events are not retried; once the token is accepted, pushes go through.
    receiver.script.clear()
    with Job("etl", connection=connection, heartbeat=None):
        pass
    wait_until(lambda: receiver.of("success"))
    assert len(receiver.of("start")) == 1


def test_it_splits_a_push_that_is_too_large():
    pushes = []
    first_push_may_answer = threading.Event()

    def transport(url, body, headers, timeout):
        pushes.append([e["event_id"] for e in json.loads(body)])
        if len(pushes) == 1:
            first_push_may_answer.wait(5)
        if len(pushes) == 2:
            return Response(413, b'{"error": "request body too large"}')
        return Response(200, b"{}")

    sender = Sender(Connection(spool_dir=None), transport)
    sender.enqueue(event("a"))
    wait_until(lambda: pushes)
    for name in "bcde":
        sender.enqueue(event(name))
    first_push_may_answer.set()
    wait_until(lambda: len(pushes) == 4)
    assert pushes == [["a"], ["b", "c", "d", "e"], ["b", "c"], ["d", "e"]]
    sender.begin_close(time.monotonic() + 1)
    sender.finish_close(time.monotonic() + 1)


def test_it_sends_the_bearer_token(receiver):
    with Job("etl", connection=fast_connection(receiver.url, token="s3cret")):
        pass
    wait_until(lambda: receiver.of("success"))
    assert {h["Authorization"] for h in receiver.headers} == {"Bearer s3cret"}
