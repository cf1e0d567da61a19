"""`batchgate discover`: crontabs (ranges, steps, @daily, CRON_TZ=, a system crontab's user
field) and a Kubernetes CronJob manifest become a rules file that loads, with the `batchgate
run` wrapper of each command."""

from __future__ import annotations

import io
from pathlib import Path

from batchgate.collector.cli import build_parser
from batchgate.collector.discover import job_name_of, run
from batchgate.rules.kinds.schedule import Missed
from batchgate.rules.ruleset import load_rules

USER_CRONTAB = """\
# m h  dom mon dow   command
MAILTO=ops@example.com
*/15 9-17 * * 1-5 /usr/local/bin/sync-orders.py --full >> /var/log/sync.log 2>&1
CRON_TZ=Europe/Berlin
30 2 * * * cd /srv/backup && ./backup.sh
@daily   /opt/reports/daily_report
@reboot /usr/bin/start-agent
"""
SYSTEM_CRONTAB = """\
SHELL=/bin/sh
17 *	* * *	root    cd / && run-parts --report /etc/cron.hourly
0 4 1,15 * *	postgres  /usr/bin/vacuumdb --all --analyze
"""
CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-export
  namespace: data
spec:
  schedule: "0 3 * * *"
  timeZone: "America/New_York"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: export
              image: registry.example.com/export:1.4
              command: ["python", "-m", "export"]
              args: ["--to", "s3://bucket/exports"]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
"""


BAD_CRONTAB = """\
CRON_TZ=Mars/Base
0 2 * * * /bin/a
TZ=UTC
61 * * * * /bin/b
@fortnightly /bin/c
"""


def _discover(*args: str, stdin: str = "") -> tuple[int, str, str]:
    parsed = build_parser().parse_args(["discover", *args])
    out, err = io.StringIO(), io.StringIO()
    code = run(parsed, io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def test_a_user_crontab_from_standard_input_becomes_rules_and_wrappers() -> None:
    code, out, err = _discover("-", stdin=USER_CRONTAB)

    assert code == 0
    assert err == "<stdin>:7: @reboot has no schedule to watch: skipped\n"
    assert out.splitlines() == [
        "# Made by batchgate discover: a `missed` rule per scheduled job.",
        "rules:",
        "  # <stdin>:3: /usr/local/bin/sync-orders.py --full >> /var/log/sync.log 2>&1",
        "  #   */15 9-17 * * 1-5 batchgate run --job sync-orders -- "
        "/usr/local/bin/sync-orders.py --full >> /var/log/sync.log 2>&1",
        "  - {name: SyncOrdersMissed, kind: missed, match: {job: sync-orders}, "
        'schedule: "*/15 9-17 * * 1-5", timezone: UTC, grace: 3m}',
        "  # <stdin>:5: cd /srv/backup && ./backup.sh",
        "  #   30 2 * * * batchgate run --job backup -- cd /srv/backup && ./backup.sh",
        "  - {name: BackupMissed, kind: missed, match: {job: backup}, "
        'schedule: "30 2 * * *", timezone: Europe/Berlin, grace: 30m}',
        "  # <stdin>:6: /opt/reports/daily_report",
        "  #   @daily batchgate run --job daily_report -- /opt/reports/daily_report",
        "  - {name: DailyReportMissed, kind: missed, match: {job: daily_report}, "
        'schedule: "0 0 * * *", timezone: Europe/Berlin, grace: 30m}',
    ]


def test_system_crontabs_and_a_cronjob_manifest_are_written_to_a_rules_file_that_loads(
    tmp_path: Path,
) -> None:
    crontab, manifest = tmp_path / "crontab", tmp_path / "cronjobs.yaml"
    crontab.write_text(SYSTEM_CRONTAB)
    manifest.write_text(CRONJOB)
    rules_file = tmp_path / "discovered.yaml"

    code, out, err = _discover("--system", str(crontab), str(manifest), "--write", str(rules_file))
    assert (code, err) == (0, "")
    assert out == f"{rules_file}: 3 rules\n"
    text = rules_file.read_text()
    assert "#   17 *\t* * *\troot batchgate run --job run-parts -- cd / && run-parts" in text
    assert '#   command: ["batchgate", "run", "--job", "nightly-export", "--", ...]' in text
    ruleset = load_rules([rules_file])
    found = []
    for rule in ruleset.rules:
        assert isinstance(rule.kind, Missed)
        assert rule.kind.ticks is not None
        found.append((rule.name, rule.kind.ticks.expression, rule.kind.timezone))
    assert found == [
        ("RunPartsMissed", "17 * * * *", "UTC"),
        ("VacuumdbMissed", "0 4 1,15 * *", "UTC"),
        ("NightlyExportMissed", "0 3 * * *", "America/New_York"),
    ]


def test_bad_entries_are_named_with_their_line_and_the_rest_is_kept() -> None:
    code, out, err = _discover("-", stdin=BAD_CRONTAB)
    assert code == 0
    assert err.splitlines() == [
        "<stdin>:5: unknown macro @fortnightly",
        "<stdin>:2: unknown time zone 'Mars/Base'",
        "<stdin>:4: schedule '61 * * * *': Bad minute",
    ]
    assert out.endswith("rules: []\n")


def test_job_names_come_from_the_program_run() -> None:
    assert job_name_of("cd /srv && ./backup.sh > /dev/null") == "backup"
    assert job_name_of("PGHOST=db1 /usr/bin/pg_dump app") == "pg_dump"
    assert job_name_of("python3 /opt/jobs/etl.py") == "python3"
