"""batchgate's client SDK: monitor a batch job in two lines. Standard library only.

    from batchgate import Job

    with Job("etl-nightly", labels={"env": "prod"}) as job:
        for done, record in enumerate(records, 1):
            load(record)
            job.progress(done=done, total=len(records))

See docs/client.md. Importing this package imports nothing outside the standard library.
"""

from batchgate.client.config import Connection
from batchgate.client.job import Job, current_job
from batchgate.client.sender import flush, shutdown

__all__ = ["Connection", "Job", "current_job", "flush", "shutdown"]
