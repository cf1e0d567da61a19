"""inhibit_rules: while a parent's alert fires, its dependents' alerts are held back (not
notified, marked inhibited) and released when it resolves, as Alertmanager does it."""

import textwrap

from batchgate.rules.book import AlertBook
from batchgate.rules.engine import RuleEngine
from batchgate.rules.inhibition import Inhibitions
from batchgate.rules.matcher_strings import parse_matcher, parse_matchers
from batchgate.rules.receivers import Router, load_receivers
from batchgate.rules.ruleset import parse_rule_file
from tests.rules.history import FAILED, T0, new_job, push, ruleset, run_once

MINUTE, HOUR = 60.0, 3600.0
RULES = """
rules:
  - {name: DatabaseDown, kind: absent, absent_for: 10m, match: {job: database}}
  - {name: JobFailed, kind: failure, match: {job: "etl_*"}}
inhibit_rules:
  - source_matchers: ['alertname="DatabaseDown"']
    target_matchers: ['alertname=~"JobFailed|JobLost"']
    equal: [env]
"""


def _engine(rules=RULES):
    loaded, errors = load_receivers('receivers:\n  - {name: ops, webhook: {url: "http://h/"}}')
    assert errors == []
    return RuleEngine(ruleset(rules), book=AlertBook(router=Router(loaded)))


def _told(evaluation):
    return sorted((n.labels["alertname"], n.job, n.status) for n in evaluation.notifications)


def _fleet():
    database = new_job("database", {"env": "prod"}, at=T0)
    database.kind = "pushgateway"
    push(database, T0)
    etl = new_job("etl_orders", {"env": "prod"}, at=T0)
    other = new_job("etl_orders", {"env": "dev"}, at=T0)
    return database, etl, other


def test_a_child_alert_is_held_while_the_parent_fires_and_released_when_it_resolves():
    rules = _engine()
    database, etl, other = _fleet()
    jobs = [database, etl, other]

    evaluation = rules.evaluate(jobs, T0 + 11 * MINUTE)  # the database went silent
    assert _told(evaluation) == [("DatabaseDown", "database", "firing")]

    run_once(etl, "r1", T0 + 12 * MINUTE, MINUTE, FAILED)
    run_once(other, "r1", T0 + 12 * MINUTE, MINUTE, FAILED)
    evaluation = rules.evaluate(jobs, T0 + 14 * MINUTE)
    # The prod job's failure is held back; the dev one has another env: notified.
    assert _told(evaluation) == [("JobFailed", "etl_orders", "firing")]
    by_env = {a.labels.get("env"): a for a in rules.book.active.values() if a.rule == "JobFailed"}
    parent = next(a for a in rules.book.active.values() if a.rule == "DatabaseDown")
    assert by_env["prod"].state == "firing"
    assert by_env["prod"].inhibited_by == (parent.id,)
    assert by_env["dev"].inhibited_by == ()
    assert rules.book.alerts()[0].to_dict()["inhibited_by"] in ([], [parent.id])

    push(database, T0 + 20 * MINUTE)  # the database is back: the held alert is notified now
    evaluation = rules.evaluate(jobs, T0 + 20 * MINUTE)
    assert _told(evaluation) == [
        ("DatabaseDown", "database", "resolved"),
        ("JobFailed", "etl_orders", "firing"),
    ]
    assert by_env["prod"].inhibited_by == ()


def test_a_pending_parent_does_not_inhibit():
    rules = _engine(RULES.replace("absent_for: 10m,", "absent_for: 10m, for: 1h,"))
    database, etl, _ = _fleet()
    run_once(etl, "r1", T0 + 12 * MINUTE, MINUTE, FAILED)

    evaluation = rules.evaluate([database, etl], T0 + 14 * MINUTE)
    assert _told(evaluation) == [("JobFailed", "etl_orders", "firing")]


def test_an_alert_matching_both_sides_is_not_held_by_one_that_does_too():
    inhibitions = Inhibitions(
        ruleset(
            """
            rules: []
            inhibit_rules:
              - source_matchers: [severity=critical]
                target_matchers: [severity=~"critical|warning"]
            """
        ).inhibit_rules
    )
    inhibitions.update("a", {"severity": "critical"}, firing=True)
    inhibitions.update("b", {"severity": "critical"}, firing=True)
    inhibitions.update("w", {"severity": "warning"}, firing=True)

    assert inhibitions.inhibited_by("a") == ()
    assert inhibitions.inhibited_by("b") == ()
    assert inhibitions.inhibited_by("w") == ("a", "b")
    assert inhibitions.remove("a") == {"b", "w"}  # the alerts whose inhibition may change
    assert inhibitions.inhibited_by("w") == ("b",)


def test_a_change_costs_the_alerts_with_its_equal_values_not_every_alert():
    inhibitions = Inhibitions(ruleset(RULES).inhibit_rules)
    for index in range(1000):
        inhibitions.update(f"child{index}", {"alertname": "JobFailed", "env": f"e{index}"}, True)

    affected = inhibitions.update("db", {"alertname": "DatabaseDown", "env": "e7"}, True)
    assert affected == {"child7"}
    assert inhibitions.inhibited_by("child7") == ("db",)
    assert inhibitions.inhibited_by("child8") == ()


def test_matcher_strings_are_read_as_alertmanager_reads_them():
    assert parse_matcher('alertname="DatabaseDown"').matches({"alertname": "DatabaseDown"})
    assert parse_matcher("env!=dev").matches({})
    assert parse_matcher('job=~"etl_.*"').matches({"job": "etl_x"})
    assert not parse_matcher('job=~"etl"').matches({"job": "etl_x"})  # anchored
    assert parse_matcher('msg="say \\"hi\\""').value == 'say "hi"'
    assert [m.name for m in parse_matchers('{a="1,2", b!~"x|y"}')] == ["a", "b"]


def test_every_mistake_is_reported_with_its_line():
    _, _, errors = parse_rule_file(
        textwrap.dedent(
            """
            rules: []
            inhibit_rules:
              - source_matchers: ['alertname="DatabaseDown"']
              - source_matchers: ['alertname="x"', 'job=~"("', 'no operator']
                target_matchers: ['severity="warning']
                equal: [env, "not a label"]
                sources: []
            """
        ),
        "rules.yaml",
    )
    assert [str(error) for error in sorted(errors)] == [
        "rules.yaml:4: inhibit rule at line 4: missing required key 'target_matchers'",
        "rules.yaml:5: source_matchers[1]: 'job=~\"(\"': invalid regular expression: missing ), "
        "unterminated subpattern at position 0",
        "rules.yaml:5: source_matchers[2]: 'no operator' is not a matcher (name, one of = != =~ "
        '!~, value: alertname="X")',
        "rules.yaml:6: target_matchers[0]: '\"warning': a quoted value must end with a quote",
        "rules.yaml:7: equal: 'not a label' is not a valid label name",
        "rules.yaml:8: inhibit rule at line 5: unknown key 'sources' (did you mean "
        "'source_matchers'?)",
    ]
