"""kind: resource — cpu, memory or a custom metric above a threshold, held with `for`."""

from tests.rules.history import T0, engine, finish, new_job, progress, start, transitions

MINUTE = 60.0


def test_memory_above_a_size_for_a_time_fires():
    rules = engine(
        """
        rules:
          - {name: MemoryHog, kind: resource, metric: memory_bytes, above: 2GiB, for: 5m}
        """
    )
    job = new_job("etl")
    start(job, "r1", T0)
    progress(job, "r1", T0 + MINUTE, memory_bytes=3 * 2**30)

    assert transitions(rules.evaluate_job(job, T0 + MINUTE)) == [("pending", "MemoryHog/etl/r1")]
    assert transitions(rules.evaluate([job], T0 + 6 * MINUTE - 1)) == []
    assert transitions(rules.evaluate([job], T0 + 6 * MINUTE)) == [("firing", "MemoryHog/etl/r1")]


def test_it_is_dropped_if_the_value_falls_before_for_has_passed():
    rules = engine(
        """
        rules:
          - {name: CpuHog, kind: resource, metric: cpu_percent, above: 90, for: 5m}
        """
    )
    job = new_job("etl")
    start(job, "r1", T0)
    progress(job, "r1", T0, cpu_percent=99)
    rules.evaluate([job], T0)
    progress(job, "r1", T0 + MINUTE, cpu_percent=20)

    assert transitions(rules.evaluate([job], T0 + MINUTE)) == [("dropped", "CpuHog/etl/r1")]


def test_a_custom_metric_is_read_from_the_runs_metrics():
    rules = engine(
        """
        rules:
          - {name: TooManyRejects, kind: resource, metric: rejected_rows, above: 1000}
        """
    )
    job = new_job("etl")
    start(job, "r1", T0)
    progress(job, "r1", T0, metrics={"rejected_rows": 1001})

    assert transitions(rules.evaluate([job], T0)) == [("firing", "TooManyRejects/etl/r1")]

    finish(job, "r1", T0 + MINUTE)
    assert transitions(rules.evaluate([job], T0 + MINUTE)) == [
        ("resolved", "TooManyRejects/etl/r1")
    ]
