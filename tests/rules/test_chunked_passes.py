"""A pass may take the live jobs in chunks, so a full pass never holds the event loop long."""

from tests.rules.history import FAILED, T0, engine, new_job, run_once, states, transitions

RULES = "rules:\n  - {name: JobFailed, kind: failure}\n"


def _failed(name):
    job = new_job(name)
    run_once(job, "r1", T0, 60, FAILED)
    return job


def test_a_pass_in_chunks_gives_what_one_call_gives():
    jobs = [_failed(f"j{index}") for index in range(10)]
    whole, chunked = engine(RULES), engine(RULES)

    expected = whole.evaluate(jobs, T0 + 60, full=True)
    evaluation_pass = chunked.start_pass(T0 + 60, full=True)
    for start in range(0, 10, 3):
        evaluation_pass.evaluate(jobs[start : start + 3])
    got = evaluation_pass.finish()

    assert sorted(transitions(got)) == sorted(transitions(expected))
    assert (got.jobs_evaluated, got.jobs_skipped) == (10, 0)


def test_a_job_evaluated_between_chunks_is_not_taken_for_deleted():
    rules, old = engine(RULES), _failed("old")
    rules.evaluate([old], T0 + 60)
    evaluation_pass = rules.start_pass(T0 + 70)
    evaluation_pass.evaluate([old])

    newcomer = _failed("newcomer")  # created while the pass was under way
    assert transitions(rules.evaluate_job(newcomer, T0 + 71)) == [("firing", "JobFailed/newcomer")]
    evaluation_pass.finish()

    assert states(rules) == {"JobFailed/old": "firing", "JobFailed/newcomer": "firing"}


def test_a_job_not_given_in_any_chunk_is_deleted():
    rules, kept, gone = engine(RULES), _failed("kept"), _failed("gone")
    rules.evaluate([kept, gone], T0 + 60)

    evaluation_pass = rules.start_pass(T0 + 70)
    evaluation_pass.evaluate([kept])

    assert transitions(evaluation_pass.finish()) == [("resolved", "JobFailed/gone")]
