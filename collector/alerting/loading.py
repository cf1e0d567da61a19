"""Loading what alerting runs with: the rule files and the alerting settings, at start and
at a reload, and what they ask of the rest (how much history jobs keep, the URL links name).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from pathlib import Path

from batchgate.collector.alerting.settings import AlertingSettings, alerting_settings
from batchgate.collector.settings import Settings
from batchgate.rules import ConfigError, ConfigErrors, RuleSet, default_rules
from batchgate.rules.ruleset import collect_ruleset, with_declared_rules

log = logging.getLogger(__name__)


def load_ruleset(settings: AlertingSettings) -> RuleSet:
    """The rules these settings name (the default rules when they name none), with the
    rules of declared schedules; raises ConfigErrors with every error of every file."""
    if not settings.rules_files:
        return with_declared_rules(default_rules())
    paths = settings.rule_paths()
    if not paths:
        log.warning("no rule file matches %s: no rules", ", ".join(settings.rules_files))
    ruleset, errors = collect_ruleset(paths)
    if errors:
        raise ConfigErrors(errors)
    return with_declared_rules(ruleset)


def with_history_for(settings: Settings, ruleset: RuleSet) -> Settings:
    """Settings whose jobs keep as many finished runs as the rules look back over."""
    needed = ruleset.history_needed
    if needed <= settings.runs.recent_runs:
        return settings
    return replace(settings, runs=replace(settings.runs, recent_runs=needed))


def external_url(settings: Settings) -> str:
    """Where people reach batchgate, for links in notifications."""
    if settings.alerting.external_url is not None:
        return settings.alerting.external_url
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else socket.gethostname()
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def read_alerting(settings: Settings) -> tuple[AlertingSettings, RuleSet]:
    text = file = None
    if settings.config_file is not None:
        file = str(settings.config_file)
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigErrors([ConfigError(file, 0, f"cannot read: {error.strerror}")]) from None
    alerting, errors = alerting_settings(text, file, settings.alerting.rules_flags)
    if errors:
        raise ConfigErrors(errors)
    return alerting, load_ruleset(alerting)
