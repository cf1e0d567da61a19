"""kind: absent — a job or Pushgateway group not heard from for T."""

from tests.rules.history import T0, engine, new_job, push, run_once, transitions

RULES = """
rules:
  - name: GroupSilent
    match: {job_kind: pushgateway}
    kind: absent
    absent_for: 1h
    annotations: {summary: "no push from {{ job }} for {{ value | duration }}"}
"""
HOUR = 3600.0


def test_absent_fires_for_a_pushgateway_group_that_stops_pushing():
    rules, group = engine(RULES), new_job("nightly_export", {"instance": "db1"}, kind="pushgateway")
    push(group, T0)

    assert transitions(rules.evaluate([group], T0 + HOUR - 1)) == []
    evaluation = rules.evaluate([group], T0 + HOUR)

    assert transitions(evaluation) == [("firing", "GroupSilent/nightly_export")]
    (alert,) = rules.book.active.values()
    assert alert.labels["instance"] == "db1"
    assert alert.annotations == {"summary": "no push from nightly_export for 1h"}


def test_absent_resolves_on_the_next_push():
    rules, group = engine(RULES), new_job("nightly_export", kind="pushgateway")
    push(group, T0)
    rules.evaluate([group], T0 + 2 * HOUR)

    push(group, T0 + 2 * HOUR + 10)

    assert transitions(rules.evaluate([group], T0 + 2 * HOUR + 10)) == [
        ("resolved", "GroupSilent/nightly_export")
    ]


def test_job_kind_keeps_batch_jobs_out():
    rules, job = engine(RULES), new_job("etl")
    run_once(job, "r1", T0, 60)

    assert transitions(rules.evaluate([job], T0 + 10 * HOUR)) == []


def test_absent_applies_to_batch_jobs_too():
    rules = engine(
        """
        rules:
          - {name: Silent, kind: absent, absent_for: 2h}
        """
    )
    job = new_job("etl")
    run_once(job, "r1", T0, 60)

    assert transitions(rules.evaluate([job], T0 + 60 + 2 * HOUR)) == [("firing", "Silent/etl")]
