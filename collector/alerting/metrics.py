"""Alerting on /metrics: the alerts themselves (`batchgate_alerts`), the rules' health, and the
notification outbox's.

The alerts and the queues are read at scrape time by a Collector (they cannot drift from what
they describe); what happens over time (evaluations, deliveries, drops) is counted as it does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from batchgate.rules.alerts import FIRING, PENDING

if TYPE_CHECKING:
    from batchgate.collector.alerting.service import Alerting

EVALUATION_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AlertingMetrics:
    """What alerting counts as it happens, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluation_seconds = Histogram(
            "batchgate_rule_evaluation_duration_seconds",
            "Time spent evaluating rules, per evaluation: a periodic pass (incremental or "
            "full, its steps added up), or the jobs an event touched.",
            ["pass"],
            buckets=EVALUATION_BUCKETS,
            registry=registry,
        )
        self.evaluation_failures = Counter(
            "batchgate_rule_evaluation_failures",
            "Evaluation passes that failed with an error (see the log).",
            registry=registry,
        )
        self.notifications = Counter(
            "batchgate_notifications",
            "Notifications by receiver and outcome: delivered; failed (an attempt failed and "
            "will be retried); dropped (given up, see batchgate_notifications_dropped_total).",
            ["receiver", "outcome"],
            registry=registry,
        )
        self.dropped = Counter(
            "batchgate_notifications_dropped",
            "Notifications given up, by receiver and reason: queue_full, expired (not "
            "delivered within give_up_after), rejected (a 4xx answer), render_error, "
            "receiver_removed.",
            ["receiver", "reason"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "batchgate_notification_request_duration_seconds",
            "Time taken by requests to receivers, answered or not.",
            ["receiver"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.event_evaluation = self.evaluation_seconds.labels("event")
        self.periodic_evaluation = self.evaluation_seconds.labels("periodic")
        self.full_evaluation = self.evaluation_seconds.labels("full")


class AlertingCollector(Collector):
    """`batchgate_alerts` and the state of rules and queues, read at scrape time."""

    def __init__(self, alerting: Alerting) -> None:
        self._alerting = alerting

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        alerting = self._alerting
        alerts = Metric(
            "batchgate_alerts",
            "1 for every pending or firing alert, with its labels (alertname, job, the job's "
            "labels, severity, the rule's labels, run_id for per-run rules) and alertstate.",
            "gauge",
        )
        for alert in alerting.engine.book.active.values():
            if alert.state in (PENDING, FIRING):
                alerts.add_sample(
                    "batchgate_alerts", {**alert.labels, "alertstate": alert.state}, 1.0
                )
        yield alerts
        reload = alerting.reload_status
        yield GaugeMetricFamily(
            "batchgate_rules_last_reload_successful",
            "1 when the last load of the rules and receivers succeeded, 0 when it failed (the "
            "rules loaded before stay in effect).",
            value=1.0 if reload.error is None else 0.0,
        )
        yield GaugeMetricFamily(
            "batchgate_rules_last_reload_success_timestamp_seconds",
            "When the rules and receivers in effect were loaded.",
            value=reload.loaded_at,
        )
        yield GaugeMetricFamily(
            "batchgate_rules", "Rules in effect.", value=len(alerting.engine.ruleset)
        )
        yield GaugeMetricFamily(
            "batchgate_rule_evaluation_longest_step_seconds",
            "The longest the last periodic evaluation held the event loop in one step.",
            value=alerting.longest_step,
        )
        silences = GaugeMetricFamily("batchgate_silences", "Silences by state.", labels=["state"])
        for state, count in alerting.silence_counts().items():
            silences.add_metric([state], float(count))
        yield silences
        outbox = alerting.outbox
        queued = GaugeMetricFamily(
            "batchgate_notifications_queue_length",
            "Notifications waiting to be delivered, by receiver.",
            labels=["receiver"],
        )
        for name, queue in outbox.queues.items():
            queued.add_metric([name], float(len(queue.items)))
        yield queued
        yield GaugeMetricFamily(
            "batchgate_notifications_queue_capacity",
            "How many notifications each receiver's queue holds before dropping the oldest.",
            value=outbox.settings.queue_capacity,
        )
