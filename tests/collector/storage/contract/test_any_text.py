"""Whatever text clients send is stored as it is: NUL characters (which PostgreSQL's text
refuses), the character its store escapes them with, and keys longer than an index entry."""

from __future__ import annotations

import json
import random
import string

from batchgate.collector.core.records import (
    AlertEventRecord,
    AuditRecord,
    SeenRecord,
    WriteBatch,
)
from tests.collector.storage.contract.conftest import MakeStore
from tests.collector.storage.contract.records import NOW, job, point, run

AWKWARD = ["a\x00b", "\x00", "\uffff", "\uffff0", "\uffff\x00\uffff\uffff", "é\x00ü", "plain"]


async def test_nul_characters_and_their_escape_come_back_unchanged(make_store: MakeStore) -> None:
    store = make_store()
    await store.open(NOW, 32, 3600)
    runs = [run(f"r{n}", n, message=text) for n, text in enumerate(AWKWARD)]
    await store.commit(
        WriteBatch(
            jobs=[job(n, f"job{n}{text}") for n, text in enumerate(AWKWARD)],
            runs=runs,
            points=[point("r0", None, NOW, "fail", message=text) for text in AWKWARD],
            seen=[SeenRecord(f"id{text}", "r0", NOW) for text in AWKWARD],
            groups=[(f'[["job","{n}"]]', f"# snapshot {text}") for n, text in enumerate(AWKWARD)],
            audit=[AuditRecord(NOW, "admin", "delete_group", text, None) for text in AWKWARD],
            alert_events=[
                AlertEventRecord(NOW, "firing", "id", "Rule", f"job{text}", "{}", None,
                                 "critical", None, text)
                for text in AWKWARD
            ],
        )
    )  # fmt: skip
    stored = {r.run_id: r for r in await store.get_runs([r.run_id for r in runs])}
    for n, text in enumerate(AWKWARD):
        assert stored[f"r{n}"].message == text
        assert stored[f"r{n}"].job.name == f"job{n}{text}"
    assert [p.message for p in await store.timeline("r0")] == AWKWARD
    seen = await store.seen_event_ids([f"id{text}" for text in AWKWARD])
    assert sorted(s.event_id for s in seen) == sorted(f"id{text}" for text in AWKWARD)
    assert [a.target for a in await store.audit(20, None)] == AWKWARD[::-1]
    history = await store.alert_history(None, None, None, None, None, 20)
    assert [e.summary for _, e in history] == AWKWARD[::-1]
    for text in AWKWARD:
        (only,) = await store.alert_history(f"job{text}", None, None, None, None, 20)
        assert only[1].job == f"job{text}"
    await store.close()
    restored = await make_store().open(NOW, 32, 3600)
    assert sorted(restored.groups) == sorted(f"# snapshot {text}" for text in AWKWARD)
    assert sorted(j.key.name for j in restored.jobs) == sorted(
        f"job{n}{text}" for n, text in enumerate(AWKWARD)
    )


async def test_jobs_and_groups_with_very_long_labels(make_store: MakeStore) -> None:
    """Label values of up to 1,024 characters, several of them: keys of many kilobytes."""
    rng = random.Random(5)

    def value() -> str:
        return "".join(rng.choice(string.ascii_letters + "ßΩ漢") for _ in range(1024))

    labels = {f"l{n}": value() for n in range(8)}
    group_key = json.dumps([["job", value()], *([k, v] for k, v in labels.items())])
    store = make_store()
    await store.open(NOW, 32, 3600)
    await store.commit(
        WriteBatch(
            jobs=[job(1, "wide", labels), job(2, "wide", {**labels, "l0": "other"})],
            groups=[(group_key, "snapshot one")],
            alert_events=[AlertEventRecord(NOW, "firing", "id", "Rule", value() * 4, "{}", None,
                                           "critical", None, None)],
        )
    )  # fmt: skip
    await store.commit(WriteBatch(groups=[(group_key, "snapshot two")]))
    await store.close()
    restored = await make_store().open(NOW, 32, 3600)
    assert {dict(j.key.labels)["l1"] for j in restored.jobs} == {labels["l1"]}
    assert len(restored.jobs) == 2
    assert restored.groups == ["snapshot two"]
