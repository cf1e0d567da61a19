"""Annotation templates: syntax errors are load errors at their line; rendering never fails."""

from batchgate.rules.ruleset import parse_rules
from tests.rules.history import FAILED, T0, engine, new_job, run_once


def _errors(text):
    _, errors = parse_rules(text, "t.yaml")
    return [(error.line, error.reason) for error in errors]


def test_a_syntax_error_in_an_inline_template_is_reported_at_its_line():
    text = """\
rules:
  - name: A
    kind: failure
    annotations:
      summary: "{{ job }"
"""
    assert _errors(text) == [(5, "annotations.summary: template error: unexpected '}'")]


def test_an_error_in_a_block_template_is_reported_at_the_line_inside_the_block():
    text = """\
rules:
  - name: A
    kind: failure
    annotations:
      description: |
        first line
        second line {% if %}
"""
    assert _errors(text) == [
        (
            7,
            "annotations.description: template error: "
            "Expected an expression, got 'end of statement block'",
        )
    ]


def test_an_unknown_filter_is_a_load_error():
    text = "rules:\n  - name: A\n    kind: failure\n    annotations: {s: '{{ job | shout }}'}\n"

    assert _errors(text) == [(4, "annotations.s: template error: No filter named 'shout'.")]


def test_every_template_error_of_a_file_is_reported():
    text = """\
rules:
  - name: A
    kind: failure
    annotations: {a: "{{", b: "{% endif %}"}
  - name: B
    kind: failure
    annotations: {c: "{{ x }"}
"""
    assert [line for line, _ in _errors(text)] == [4, 4, 7]


def test_a_template_that_fails_at_render_time_renders_the_error_not_an_exception():
    rules = engine(
        """
        rules:
          - name: A
            kind: failure
            annotations: {summary: "{{ 1 / 0 }}", other: "{{ run.metrics.rows }} rows"}
        """
    )
    job = new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)

    rules.evaluate([job], T0 + 60)

    (alert,) = rules.book.active.values()
    assert alert.annotations["summary"].startswith("<template error: ZeroDivisionError")
    assert alert.annotations["other"] == " rows"


def test_templates_are_sandboxed():
    rules = engine(
        """
        rules:
          - name: A
            kind: failure
            annotations: {summary: "{{ run.__class__.__mro__ }}", more: "{{ ''.__class__ }}"}
        """
    )
    job = new_job("etl")
    run_once(job, "r1", T0, 60, FAILED)

    rules.evaluate([job], T0 + 60)

    (alert,) = rules.book.active.values()
    assert "Run" not in alert.annotations["summary"]
    assert "str" not in alert.annotations["more"]


def test_templates_see_job_labels_run_value_and_filters():
    rules = engine(
        """
        rules:
          - name: A
            kind: failure
            annotations:
              summary: >-
                {{ job }} {{ job_labels.env }} {{ labels.severity }} {{ run.exit_code }}
                {{ value }} {{ 5400 | duration }} {{ 1536 | bytes }}
                {{ run.finished_at | timestamp }}
        """
    )
    job = new_job("etl", {"env": "prod"})
    run_once(job, "r1", T0, 60, FAILED, exit_code=3)

    rules.evaluate([job], T0 + 60)

    (alert,) = rules.book.active.values()
    assert alert.annotations["summary"] == (
        "etl prod warning 3 1.0 1h 30m 1.5 KiB 2024-05-01 00:01:00 UTC"
    )


def test_the_duration_filter_keeps_what_a_person_would_read() -> None:
    from batchgate.rules.durations import format_duration

    assert [format_duration(s) for s in (0.25, 3.0, 3.9, 9.96, 42.7, 3900)] == [
        "0.25s",
        "3s",
        "3.9s",
        "10s",
        "42s",
        "1h 5m",
    ]
