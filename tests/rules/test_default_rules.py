"""The default rules: any failure, stuck for 15 minutes, lost; active with no configuration."""

from batchgate.rules.engine import RuleEngine
from batchgate.rules.kinds import Context
from batchgate.rules.ruleset import default_rules, load_rules
from tests.rules.history import FAILED, T0, new_job, progress, run_once, start, states


def test_no_rules_files_means_the_default_rules():
    assert [rule.name for rule in load_rules([]).rules] == ["JobFailed", "JobStuck", "JobLost"]
    assert [rule.name for rule in default_rules().rules] == ["JobFailed", "JobStuck", "JobLost"]


def test_the_defaults_alert_on_a_failure_a_stuck_run_and_a_lost_run():
    rules = RuleEngine(default_rules(), context=Context(default_lost_after=600))
    failed, stuck, lost = new_job("failed"), new_job("stuck"), new_job("lost")
    run_once(failed, "f1", T0, 60, FAILED, message="boom", exit_code=2)
    start(stuck, "s1", T0)
    progress(stuck, "s1", T0, done=1)
    for minute in range(1, 16):
        progress(stuck, "s1", T0 + minute * 60, cpu_percent=1)
    start(lost, "l1", T0)

    rules.evaluate([failed, stuck, lost], T0 + 15 * 60)

    assert states(rules) == {
        "JobFailed/failed": "firing",
        "JobStuck/stuck/s1": "firing",
        "JobLost/lost": "firing",
    }
    by_rule = {alert.rule: alert for alert in rules.book.active.values()}
    assert by_rule["JobFailed"].annotations == {
        "summary": "failed failed",
        "description": "Run f1 of failed failed with exit code 2: boom",
    }
    assert by_rule["JobStuck"].annotations["description"] == (
        "Run s1 of stuck has made no progress for 15m."
    )
