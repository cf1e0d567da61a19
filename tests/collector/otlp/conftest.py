"""The alerting tests' `start_with` (batchgate started with rules), for `absent` rules."""

from tests.collector.alerting.conftest import start_with

__all__ = ["start_with"]
