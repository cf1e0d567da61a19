"""RQ: a worker class that reports each job to batchgate.

    rq worker --worker-class batchgate.rq.Worker emails      # or batchgate.rq.SimpleWorker

A job is a run of the job named as its function (`tasks.send_email`), its run id the job
id, its queue the queue it came from. The worker reports, from its main process, that the
job was queued (at its `enqueued_at`, so its wait is known) and started (with the worker:
its host name and the pid of its main process, which forks the work horse), and after the
work horse is done how it ended: `success`, `fail` (the exception's last line), `retry`
(RQ queued or scheduled it again) or `cancel` (stopped or canceled). Every `DEPTH_EVERY`
seconds it reports how many jobs wait in each of its queues (a `queue_state` snapshot), and
the jobs canceled before any worker took them (`Job.cancel()`: RQ's canceled job registry),
as queued then cancelled; a starting worker looks back a day for those.
URL and token from BATCHGATE_URL and BATCHGATE_TOKEN, as for `Job`. Importing this module
imports RQ; `import batchgate` does not.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import rq
from rq.job import Job, JobStatus

from batchgate.client.config import Connection
from batchgate.client.sender import sender_for

logger = logging.getLogger("batchgate.rq")

ERROR_META = "batchgate_error"
"""The job's meta key where the work horse keeps its exception's last line."""
DEPTH_EVERY = 30.0
"""Seconds between two reports of the depth of the worker's queues."""
CANCELED_LOOKBACK = 86400.0
"""How far back a starting worker looks for jobs canceled before any worker took them
(batchgate's queue windows are a day long)."""
CANCELED_OVERLAP = 60.0
"""Each look for canceled jobs starts this long before the last one ended: a job canceled
by a process whose clock is behind this one's is not missed (seen twice, it is applied
once: a cancelled run stays cancelled)."""
_ENDINGS = {
    JobStatus.FINISHED: ("success", None),
    JobStatus.FAILED: ("fail", None),
    JobStatus.QUEUED: ("retry", None),
    JobStatus.SCHEDULED: ("retry", None),
    JobStatus.STOPPED: ("cancel", "stopped"),
    JobStatus.CANCELED: ("cancel", "canceled"),
}


class Reporting:
    """What the worker classes add to RQ's: the reports around each job, and the depth."""

    depth_every: float | None = DEPTH_EVERY
    queues: list[Any]
    connection: Any
    hostname: str | None
    pid: int | None

    def work(self, *args: Any, **kwargs: Any) -> bool:
        if self.depth_every:
            # The first report before the first job: a burst worker makes one too.
            since = self._report_queues(time.time() - CANCELED_LOOKBACK)
            threading.Thread(target=self._keep_reporting, args=(since,),
                             name="batchgate-rq-depth", daemon=True).start()  # fmt: skip
        return bool(super().work(*args, **kwargs))  # type: ignore[misc]

    def execute_job(self, job: Any, queue: Any) -> None:
        name, run_id, origin = job.func_name, job.id, job.origin
        queued = {"job": name, "event": "queued", "run_id": run_id, "queue": origin}
        enqueued_at = _unix(job.enqueued_at)
        _send(queued, enqueued_at)
        start = {"job": name, "event": "start", "run_id": run_id, "queue": origin}
        worker = {"hostname": self.hostname, "pid": self.pid}
        if any(value is not None for value in worker.values()):
            start["worker"] = {key: value for key, value in worker.items() if value is not None}
        _send(start)
        try:
            super().execute_job(job, queue)  # type: ignore[misc]
        finally:
            self._report_end(job, name, run_id)

    def handle_job_failure(self, job: Any, queue: Any, *args: Any, **kwargs: Any) -> None:
        # In the work horse: a retried failure leaves no trace of its exception in Redis, so
        # its last line goes into the job's meta for the main process to report.
        exc_string = kwargs.get("exc_string", args[1] if len(args) > 1 else "")
        line = _last_line_of(exc_string)
        if line:
            try:
                job.meta[ERROR_META] = line
                job.save_meta()
            except Exception:
                logger.exception("batchgate: could not keep the job's error")
        super().handle_job_failure(job, queue, *args, **kwargs)  # type: ignore[misc]

    def _report_end(self, job: Any, name: str, run_id: str) -> None:
        try:
            status = job.get_status(refresh=True)
        except Exception:  # the job is gone (its result expired at once): nothing to say
            return
        ending = _ENDINGS.get(status)
        if ending is None:
            return
        event_type, message = ending
        event: dict[str, Any] = {"job": name, "event": event_type, "run_id": run_id}
        if event_type in ("fail", "retry"):
            message = _error_of(job)
        if message:
            event["message"] = message
        _send(event)

    def _keep_reporting(self, since: float) -> None:
        while True:
            time.sleep(self.depth_every or DEPTH_EVERY)
            since = self._report_queues(since)

    def _report_queues(self, since: float) -> float:
        """Report each queue's depth and the jobs canceled in it since `since` that no worker
        took; returns where the next look for canceled jobs starts."""
        now = time.time()
        try:
            for queue in self.queues:
                _send({"event": "queue_state", "queue": queue.name, "waiting": queue.count})
                _report_canceled(queue, since)
        except Exception as error:  # a broker hiccup: try again next time
            logger.warning("batchgate: could not read the queues: %s", error)
            return since
        return now - CANCELED_OVERLAP


class Worker(Reporting, rq.Worker):
    """RQ's forking worker, reporting each job to batchgate."""


class SimpleWorker(Reporting, rq.SimpleWorker):
    """RQ's worker that runs jobs in its own process, reporting each job to batchgate."""


def _report_canceled(queue: Any, since: float) -> None:
    """The jobs of `queue` canceled since `since` before a worker took them, each reported
    queued (when it was enqueued) and cancelled (when it was canceled: the registry's
    score). A job a worker took is that worker's to report."""
    registry = queue.canceled_job_registry
    found = queue.connection.zrangebyscore(registry.key, since, "+inf", withscores=True)
    if not found:
        return
    ids = [member.decode() if isinstance(member, bytes) else member for member, _ in found]
    jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
    for job, (_, canceled_at) in zip(jobs, found, strict=True):
        if job is None or job.started_at is not None:
            continue
        try:
            run = {"job": job.func_name, "run_id": job.id, "queue": job.origin}
        except Exception:  # its data cannot be read here (a class this worker lacks)
            logger.warning("batchgate: could not read canceled job %s", job.id)
            continue
        _send({**run, "event": "queued"}, _unix(job.enqueued_at) or canceled_at)
        _send({**run, "event": "cancel", "message": "canceled"}, canceled_at)


def _send(event: dict[str, Any], at: float | None = None) -> None:
    event["timestamp"] = round(at if at is not None else time.time(), 6)
    try:
        sender_for(Connection.resolve()).enqueue(event)
    except Exception:  # monitoring must never break a job
        logger.exception("batchgate: could not queue an event")


def _unix(moment: datetime | None) -> float | None:
    """RQ's times are UTC, naive in older versions."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _error_of(job: Any) -> str | None:
    """The last line of the job's latest exception, as the work horse kept it."""
    try:
        job.refresh()
        return job.meta.get(ERROR_META) or _last_line_of(job.exc_info)
    except Exception:
        return None


def _last_line_of(text: str | None) -> str | None:
    """The last line of a traceback: the exception's `Type: message`."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else None
