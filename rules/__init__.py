"""The rules engine: YAML rules, their pure evaluation over jobs, and the alert lifecycle.

Pure: nothing in this package reads a clock, sleeps, or touches the network (it reads rule
files only when asked to load them). Every function that depends on time takes `now`.
"""

from rules.alerts import Alert, Evaluation, Notification, Transition, fingerprint
from rules.book import AlertBook
from rules.engine import EvaluationPass, RuleEngine
from rules.errors import ConfigError, ConfigErrors
from rules.facts import JobFacts, RunFacts, RunSummaryFacts
from rules.kinds import Context
from rules.payloads import HttpRequest, build_requests
from rules.receivers import Receiver, Router, load_receivers, parse_receivers
from rules.ruleset import (
    Rule,
    RuleSet,
    check_files,
    collect_rules,
    default_rules,
    load_rules,
    parse_rules,
)
from rules.silences import InvalidSilence, Silence, parse_silence, silencing
from rules.templates import TemplateRenderError

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
