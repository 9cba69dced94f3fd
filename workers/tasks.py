"""The one Celery task: take a job from the store, run its handler, record the outcome."""

from __future__ import annotations

import itertools
import json
import logging
import socket
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown

from app.core.contract import TASK_NAME
from app.core.job import MISSING, Job
from app.core.states import JobStatus
from app.store.context import Context
from app.store.jobstore import ChunkTooLarge, NotStarted
from app.store.outbox import queue_expired_webhook, queue_webhook

from . import deliveries, process, runpod_compat, runtime, stopper
from .celery_base import JobgateCelery
from .loader import HandlerLoadError
from .stopper import JobStopped

log = logging.getLogger("jobgate.worker")


def exception_error(exc: BaseException, worker_id: str) -> str:
    """RunPod's error text for an uncaught handler exception: a JSON string."""
    return json.dumps(
        {
            "error_type": type(exc).__name__,
            "error_message": str(exc),
            "hostname": socket.gethostname(),
            "worker_id": worker_id,
        }
    )


def timeout_error(execution_timeout_ms: int) -> str:
    return f"execution timeout of {execution_timeout_ms} ms exceeded"


class JobTask(Task):
    """Base task: records hard time-limit kills, which happen outside the pool process."""

    # By name: importing celery.worker.request here would import billiard.common, which reads
    # REMAP_SIGTERM once, before `jobgate worker` has set it.
    Request = "workers.recycle:RecyclingRequest"

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, TimeLimitExceeded):
            celery: JobgateCelery = self.app
            job = celery.context.store.get(task_id)
            if job is not None:
                _end(celery, job, JobStatus.TIMED_OUT, error=timeout_error(job.execution_timeout_ms))


def run(task: Task, endpoint_id: str, job_id: str) -> str:
    """Run one job; returns the status it ended in (or why it did not run)."""
    celery: JobgateCelery = task.app
    ctx = celery.context
    worker = process.current(ctx)
    hard_limit = task.request.timelimit[0] if task.request.timelimit else None
    hard_ms = int((hard_limit or ctx.registry[endpoint_id].execution_timeout_ms / 1000) * 1000)
    # From here a stop for this job (Celery's revoke signal) is remembered, not lost.
    with worker.stopper.taking(job_id):
        try:
            previous, job = deliveries.start(ctx, job_id, endpoint_id, worker.id, hard_ms)
        except NotStarted as refused:
            return deliveries.refused(ctx.store, refused)
        if job is None or previous not in (JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS):
            # Purged, cancelled, expired or already finished: nothing to run.
            log.info("job %s not run: %s", job_id, previous or "gone")
            return "SKIPPED"
        worker.set_state("running", job_id, endpoint_id)
        try:
            status = _execute(celery, worker, job)
        finally:
            worker.set_state("idle")
    if worker.recycle_requested:
        worker.recycle()
    return status


def _end(celery: JobgateCelery, job: Job, status: JobStatus, *, output: Any = MISSING, error: str | None = None) -> str:
    """Record a terminal state (unless the job already has one) and queue its webhook."""
    store = celery.context.store
    fields: dict[str, Any] = {"error": error}
    if output is not MISSING:
        fields["output"] = output
    if store.finish(job, status, **fields):
        queue_webhook(celery, store, job)
    return status.value


def _execute(celery: JobgateCelery, worker: process.WorkerProcess, job: Job) -> str:
    store = celery.context.store
    index = itertools.count()

    def emit(chunk: Any) -> None:
        # Between chunks is where a streaming handler learns it was cancelled or removed.
        if not store.push_chunk(job, chunk, next(index)):
            worker.stopper.interrupt(stopper.CANCELLED)

    def call() -> runtime.Outcome:
        handler = worker.handler(job.endpoint)
        rp_config = runpod_compat.config_for(handler)  # a RunPod handler file's start() config
        if rp_config is not None and rp_config.refresh_worker:
            worker.recycle_requested = True
        outcome = runtime.execute(
            handler,
            {"id": job.id, "input": job.input},
            emit=emit,
            aggregate=rp_config.return_aggregate_stream if rp_config else True,
        )
        worker.recycle_requested |= outcome.refresh_worker
        return outcome

    try:
        outcome = worker.stopper.call(job, call)
    except JobStopped as stop:
        log.info("job %s stopped: %s", job.id, stop.reason)
        if stop.reason == stopper.EXPIRED:
            store.remove(job)
            queue_expired_webhook(celery, job)
            return "REMOVED"
        return _end(celery, job, JobStatus.CANCELLED)  # nothing to do when /cancel wrote it
    except SoftTimeLimitExceeded:
        return _end(celery, job, JobStatus.TIMED_OUT, error=timeout_error(job.execution_timeout_ms))
    except (HandlerLoadError, ChunkTooLarge) as exc:
        return _end(celery, job, JobStatus.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("job %s on %s failed", job.id, job.endpoint)
        return _end(celery, job, JobStatus.FAILED, error=exception_error(exc, worker.id))
    if outcome.error is not None:
        return _end(celery, job, JobStatus.FAILED, output=outcome.output, error=outcome.error)
    return _end(celery, job, JobStatus.COMPLETED, output=None if outcome.output is MISSING else outcome.output)


def register(celery: JobgateCelery) -> None:
    """Register the task and the pool-process hooks on ``celery``."""
    celery.task(name=TASK_NAME, bind=True, base=JobTask, ignore_result=True)(run)
    context: Context = celery.context

    def on_process_init(**_: Any) -> None:
        process.current(context).load_handlers()

    def on_process_shutdown(**_: Any) -> None:
        process.current(context).stop()

    worker_process_init.connect(on_process_init, weak=False)
    worker_process_shutdown.connect(on_process_shutdown, weak=False)
