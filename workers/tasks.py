"""The one Celery task: take a job from the store, run its handler, record the outcome."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown

from app.core.contract import TASK_NAME
from app.core.job import MISSING, Job, error_text
from app.core.states import JobStatus
from app.core.strictjson import JSONRefused
from app.store.context import Context
from app.store.jobstore import ChunkTooLarge, NotStarted
from app.store.outbox import queue_webhook

from . import deliveries, process, runpod_compat, runtime, stopper
from .celery_base import JobgateCelery
from .loader import HandlerLoadError
from .outcomes import REMOVED, SKIPPED, THROWS, Ended, tell_celery
from .outputs import OutputRefused, refusal, runpod_error
from .stopper import JobStopped

log = logging.getLogger("jobgate.worker")


def exception_error(exc: BaseException, worker_id: str) -> str:
    """RunPod's error text for an uncaught handler exception: a JSON string."""
    return runpod_error(type(exc).__name__, str(exc), worker_id)


def timeout_error(execution_timeout_ms: int) -> str:
    return error_text(
        "ExecutionTimeout",
        f"execution timeout of {execution_timeout_ms} ms exceeded",
        execution_timeout_ms=execution_timeout_ms,
    )


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
    """Run one job; returns COMPLETED, or raises what tells Celery how else it ended (workers/outcomes.py)."""
    celery: JobgateCelery = task.app
    ctx = celery.context
    worker = process.current(ctx)
    hard_limit = task.request.timelimit[0] if task.request.timelimit else None
    hard_ms = int((hard_limit or ctx.registry[endpoint_id].execution_timeout_ms / 1000) * 1000)
    # From here a stop for this job (Celery's revoke signal) is remembered, not lost.
    with worker.stopper.taking(job_id):
        ended = _take_and_run(celery, worker, job_id, endpoint_id, hard_ms)
    if worker.recycle_requested:
        worker.recycle()
    return tell_celery(task, ended)


def _take_and_run(
    celery: JobgateCelery, worker: process.WorkerProcess, job_id: str, endpoint_id: str, hard_ms: int
) -> Ended:
    ctx = celery.context
    try:
        previous, job = deliveries.start(ctx, job_id, endpoint_id, worker.id, hard_ms)
    except NotStarted as refused:
        return deliveries.refused(ctx.store, refused)
    if job is None or previous not in (JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS):
        # Purged, cancelled, expired or already finished: nothing to run.
        log.info("job %s not run: %s", job_id, previous or "gone")
        if job is None:
            return Ended(REMOVED)
        return Ended(JobStatus.CANCELLED.value if previous is JobStatus.CANCELLED else SKIPPED)
    worker.set_state("running", job_id, endpoint_id)
    try:
        return _execute(celery, worker, job)
    finally:
        worker.set_state("idle")


def _end(
    celery: JobgateCelery, job: Job, status: JobStatus, *, output: Any = MISSING, error: str | None = None
) -> Ended:
    """Record a terminal state (unless the job already has one) and queue its webhook; how it ended."""
    store = celery.context.store
    fields: dict[str, Any] = {"error": error}
    if output is not MISSING:
        fields["output"] = output
    if store.finish(job, status, **fields):
        queue_webhook(celery, store, job)
        return Ended(status.value, error)
    # Ended another way meanwhile (a /cancel while the handler failed, say): report that.
    now = store.get(job.id)
    return Ended(now.status.value, now.error) if now is not None else Ended(REMOVED)


def _execute(celery: JobgateCelery, worker: process.WorkerProcess, job: Job) -> Ended:
    store = celery.context.store
    index = itertools.count()

    def emit(chunk: Any) -> None:
        at = next(index)
        # Between chunks is where a streaming handler learns it was cancelled or removed.
        if not store.push_chunk(job, worker.outputs.chunk(chunk, at), at):
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

    worker.take_refusal()  # none left from an earlier job
    try:
        outcome = worker.stopper.call(job, call)
    except JobStopped as stop:
        log.info("job %s stopped: %s", job.id, stop.reason)
        refused = worker.take_refusal()
        if stop.reason == stopper.OUTPUT_REFUSED and refused is not None:  # a progress value
            return _fail(celery, worker, job, refused)
        if stop.reason == stopper.EXPIRED:
            store.remove(job)
            return Ended(REMOVED)
        _end(celery, job, JobStatus.CANCELLED)  # nothing to do when /cancel wrote it
        return Ended(JobStatus.CANCELLED.value, revoked_by_celery=stop.by_signal)
    except SoftTimeLimitExceeded:
        return _end(celery, job, JobStatus.TIMED_OUT, error=timeout_error(job.execution_timeout_ms))
    except (HandlerLoadError, ChunkTooLarge) as exc:
        return _end(celery, job, JobStatus.FAILED, error=error_text(type(exc).__name__, str(exc), worker_id=worker.id))
    except OutputRefused as exc:  # a stream chunk
        return _fail(celery, worker, job, exc)
    except JSONRefused as exc:  # the error object a handler returned
        return _fail(celery, worker, job, refusal(exc, "error"))
    except Exception as exc:
        log.exception("job %s on %s failed", job.id, job.endpoint)
        return _end(celery, job, JobStatus.FAILED, error=exception_error(exc, worker.id))
    refused = worker.take_refusal()
    if refused is not None:  # the handler swallowed the stop its progress value caused
        return _fail(celery, worker, job, refused)
    try:
        output = MISSING if outcome.output is MISSING else worker.outputs.output(outcome.output)
    except OutputRefused as exc:
        return _fail(celery, worker, job, exc)
    if outcome.error is not None:
        return _end(celery, job, JobStatus.FAILED, output=output, error=outcome.error)
    return _end(celery, job, JobStatus.COMPLETED, output=None if output is MISSING else output)


def _fail(celery: JobgateCelery, worker: process.WorkerProcess, job: Job, refused: OutputRefused) -> Ended:
    """End a job whose handler produced something that cannot be stored."""
    log.error("job %s on %s failed: %s", job.id, job.endpoint, refused.message)
    return _end(celery, job, JobStatus.FAILED, error=refused.error(worker.id))


def register(celery: JobgateCelery) -> None:
    """Register the task and the pool-process hooks on ``celery``."""
    celery.task(name=TASK_NAME, bind=True, base=JobTask, ignore_result=True, throws=THROWS)(run)
    context: Context = celery.context

    def on_process_init(**_: Any) -> None:
        process.current(context).load_handlers()

    def on_process_shutdown(**_: Any) -> None:
        process.current(context).stop()

    worker_process_init.connect(on_process_init, weak=False)
    worker_process_shutdown.connect(on_process_shutdown, weak=False)
