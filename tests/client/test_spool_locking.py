"""A spool file belongs to its process while it lives; only then may another adopt it."""

import subprocess
import sys

from batchgate.client.spool import Spool
from tests.client.conftest import subprocess_env

URL = "http://collector.example:9091/push"


def event(kind, n):
    return {"job": "etl", "event": kind, "run_id": "r1", "event_id": f"e{n}", "timestamp": n}


def test_it_does_not_adopt_a_live_process_spool(tmp_path):
    owner = Spool(str(tmp_path), URL, 1 << 20)
    owner.append([event("start", 1), event("progress", 2)])
    other = Spool(str(tmp_path), URL, 1 << 20)
    assert list(other.orphans()) == []
    owner.close()  # exits with events left: they stay for the next process
    [adopted] = list(other.orphans())
    events, offset = adopted.peek(100)
    assert [e["event_id"] for e in events] == ["e1", "e2"]
    adopted.drop(offset)
    adopted.close()
    assert list(tmp_path.glob("*/*.jsonl")) == []


def test_it_does_not_adopt_the_spool_of_another_live_process(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from client.spool import Spool\n"
            f"s = Spool({str(tmp_path)!r}, {URL!r}, 1 << 20)\n"
            "s.append([{'job': 'etl', 'event': 'start', 'event_id': 'x'}])\n"
            "print('ready', flush=True); sys.stdin.read()",
        ],
        env=subprocess_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "ready\n"
        assert len(list(tmp_path.glob("*/*.jsonl"))) == 1
        assert list(Spool(str(tmp_path), URL, 1 << 20).orphans()) == []
    finally:
        holder.communicate("")
    assert len(list(Spool(str(tmp_path), URL, 1 << 20).orphans())) == 1


def test_it_keeps_start_and_finish_when_full_and_drops_progress(tmp_path):
    spool = Spool(str(tmp_path), URL, 600)
    spool.append([event("start", 0)] + [event("progress", n) for n in range(1, 50)])
    spool.append([event("success", 99)])
    events, _ = spool.peek(1000)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "success"
    assert 0 < kinds.count("progress") < 49
    assert spool.dropped == 49 - kinds.count("progress")
    spool.close()


def test_it_skips_a_torn_last_line(tmp_path):
    spool = Spool(str(tmp_path), URL, 1 << 20)
    spool.append([event("start", 1)])
    [path] = tmp_path.glob("*/*.jsonl")
    spool.close()
    with open(path, "a") as file:
        file.write('{"job": "etl", "ev')  # a crash in the middle of a write
    [adopted] = list(Spool(str(tmp_path), URL, 1 << 20).orphans())
    events, offset = adopted.peek(10)
    assert [e["event_id"] for e in events] == ["e1"]
    adopted.drop(offset)
    assert adopted.peek(10)[0] == []
    adopted.close()
