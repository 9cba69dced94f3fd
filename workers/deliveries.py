"""Taking a delivered job: not while another process still runs it, not past the bound.

A job's message is delivered again whenever the process running it is lost (a killed pool
process, a lost host, a shutdown past its grace). The job store counts the runs (START).
A delivery is not run while the job's recorded worker says it still runs it: Celery restores
a running job's message when its broker connection drops, and a killed pool process claims
its job until its replacement (same worker id) or the heartbeat's expiry clears the claim;
so the delivery waits up to that expiry, then is dropped as a duplicate. Once a job has had
``JOBGATE_MAX_DELIVERIES`` runs, the next delivery ends it FAILED, saying so.
"""

from __future__ import annotations

import logging
import time

from app.core.job import Job, error_text
from app.core.states import JobStatus
from app.store.context import Context
from app.store.fleet import MISSED_BEATS
from app.store.jobstore import JobStore, NotStarted

from .outcomes import SKIPPED, Ended

log = logging.getLogger("jobgate.worker")


def start(
    ctx: Context, job_id: str, endpoint_id: str, worker_id: str, hard_ms: int
) -> tuple[JobStatus | None, Job | None]:
    """The job store's START, waiting out a claim by a worker that may be dead."""
    patience = ctx.settings.heartbeat_s * MISSED_BEATS + 1
    deadline = time.monotonic() + patience
    pause = 0.05
    while True:
        try:
            return ctx.store.start(job_id, endpoint_id, worker_id, hard_ms, max_deliveries=ctx.settings.max_deliveries)
        except NotStarted as refused:
            if refused.reason != "RUNNING" or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(1.0, pause * 2)


def lost_error(deliveries: int, worker_id: str | None = None) -> str:
    """The error a client reads on a job given up after ``deliveries`` lost runs (a handler exception's shape)."""
    message = (
        f"worker lost {deliveries} times while running this job (its process died or was "
        f"stopped each time); JOBGATE_MAX_DELIVERIES reached, not run again"
    )
    return error_text("WorkerLost", message, deliveries=deliveries, worker_id=worker_id)


def give_up(store: JobStore, job: Job) -> Ended:
    """End a job that has had its bound of runs as FAILED; how it ended."""
    error = lost_error(job.deliveries, job.worker_id)
    ended = store.finish(job, JobStatus.FAILED, error=error, allowed_from=(JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS))
    return Ended(JobStatus.FAILED.value, error) if ended else Ended(SKIPPED)


def refused(store: JobStore, refusal: NotStarted) -> Ended:
    """Handle a delivery START refused; returns what the task reports."""
    job = refusal.job
    if refusal.reason == "EXHAUSTED":
        log.error("job %s not run: its worker was lost %s times", job.id, job.deliveries)
        return give_up(store, job)
    # The live run keeps going and records the outcome; this copy of the message is dropped.
    log.warning("job %s not run: a duplicate delivery, %s still runs it", job.id, job.worker_id)
    return Ended(SKIPPED)
