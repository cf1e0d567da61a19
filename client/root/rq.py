"""`rq worker --worker-class batchgate.rq.Worker`: RQ's jobs reported to batchgate (see
`batchgate.client.integrations.rq`). Importing this imports RQ."""

from batchgate.client.integrations.rq import SimpleWorker, Worker

__all__ = ["SimpleWorker", "Worker"]
