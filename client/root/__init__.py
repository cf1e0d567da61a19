"""batchgate: monitor batch jobs, cron jobs and task queues.

This is the one import name batchgate installs. Jobs use the SDK from here:

    from batchgate import Job

    with Job("etl-nightly") as job:
        job.progress(done=10, total=100)

Its parts: `batchgate.client` (the SDK and `batchgate run`, standard library only, from the
`batchgate-client` distribution), and, with the `batchgate` distribution, the server
(`batchgate.collector`) and its rules engine (`batchgate.rules`). In the repository this
file is `client/root/__init__.py` (docs/architecture.md, "Packaging").
"""

__version__ = "0.2.0"
"""The version of both distributions (`batchgate-client` and `batchgate`), released together."""

from batchgate.client import Connection, Job, current_job, flush, shutdown  # noqa: E402

__all__ = ["Connection", "Job", "__version__", "current_job", "flush", "shutdown"]
