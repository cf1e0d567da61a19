"""The rules engine: YAML rules, their pure evaluation over jobs, and the alert lifecycle.

Pure: nothing in this package reads a clock, sleeps, or touches the network (it reads rule
files only when asked to load them). Every function that depends on time takes `now`.
"""

from batchgate.rules.alerts import Alert, Evaluation, Notification, Transition, fingerprint
from batchgate.rules.book import AlertBook
from batchgate.rules.engine import EvaluationPass, RuleEngine
from batchgate.rules.errors import ConfigError, ConfigErrors
from batchgate.rules.facts import JobFacts, Readings, RunFacts, RunSummaryFacts
from batchgate.rules.kinds import Context
from batchgate.rules.payloads import HttpRequest, build_requests
from batchgate.rules.receivers import Receiver, Router, load_receivers, parse_receivers
from batchgate.rules.ruleset import (
    Rule,
    RuleSet,
    check_files,
    collect_rules,
    default_rules,
    load_rules,
    parse_rules,
)
from batchgate.rules.silences import InvalidSilence, Silence, parse_silence, silencing
from batchgate.rules.templates import TemplateRenderError

__all__ = [
    "Alert",
    "AlertBook",
    "ConfigError",
    "ConfigErrors",
    "Context",
    "Evaluation",
    "EvaluationPass",
    "HttpRequest",
    "InvalidSilence",
    "JobFacts",
    "Notification",
    "Readings",
    "Receiver",
    "Router",
    "Rule",
    "RuleEngine",
    "RuleSet",
    "RunFacts",
    "RunSummaryFacts",
    "Silence",
    "TemplateRenderError",
    "Transition",
    "build_requests",
    "check_files",
    "collect_rules",
    "default_rules",
    "fingerprint",
    "load_receivers",
    "load_rules",
    "parse_receivers",
    "parse_rules",
    "parse_silence",
    "silencing",
]
