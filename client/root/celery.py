"""`batchgate.celery.monitor(app)`: Celery's tasks reported to batchgate (see
`batchgate.client.integrations.celery`). Importing this imports nothing of Celery."""

from batchgate.client.integrations.celery import Monitor, monitor

__all__ = ["Monitor", "monitor"]
