"""The queue rules' tests start batchgate with rules, as the alerting tests do."""

from tests.collector.alerting.conftest import start_with

__all__ = ["start_with"]
