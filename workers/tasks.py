"""The one Celery task: take a job from the store, run its handler, record the outcome."""

from __future__ import annotations

import itertools
import json
import logging
import socket
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown

from app.core.clock import now_ms
from app.core.contract import TASK_NAME
from app.core.job import MISSING, Job
from app.core.states import JobStatus
from app.store.context import Context
from app.store.jobstore import ChunkTooLarge, JobStore, NotStarted
from app.store.outbox import queue_webhook

from . import deliveries, process, runpod_compat, runtime, stopper
from .celery_base import JobgateCelery
from .concurrent import Runner, is_async
from .inflight import InFlight, run_in_thread, run_on_loop
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
    Request = "workers.pool:JobRequest"

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
    if worker.runner is not None:
        return _run_concurrent(celery, worker, worker.runner, endpoint_id, job_id, hard_ms)
    # From here a stop for this job (Celery's revoke signal) is remembered, not lost.
    with worker.stopper.taking(job_id):
        job = _start(ctx, worker, endpoint_id, job_id, hard_ms)
        if isinstance(job, str):
            return job
        worker.job_started(job.id, endpoint_id)
        try:
            status = _execute(celery, worker, job)
        finally:
            worker.job_ended(job.id)
    if worker.recycle_requested:
        worker.recycle()
    return status


def _start(ctx: Context, worker: process.WorkerProcess, endpoint_id: str, job_id: str, hard_ms: int) -> Job | str:
    """The job, now IN_PROGRESS here; or what the task reports when it is not to run."""
    try:
        previous, job = deliveries.start(ctx, job_id, endpoint_id, worker.id, hard_ms)
    except NotStarted as refused:
        return deliveries.refused(ctx.store, refused)
    if job is None or previous not in (JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS):
        # Purged, cancelled, expired or already finished: nothing to run.
        log.info("job %s not run: %s", job_id, previous or "gone")
        return "SKIPPED"
    return job


def _end(celery: JobgateCelery, job: Job, status: JobStatus, *, output: Any = MISSING, error: str | None = None) -> str:
    """Record a terminal state (unless the job already has one) and queue its webhook."""
    store = celery.context.store
    fields: dict[str, Any] = {"error": error}
    if output is not MISSING:
        fields["output"] = output
    if store.finish(job, status, **fields):
        queue_webhook(celery, store, job)
    return status.value


def _emitter(store: JobStore, job: Job, refused: Callable[[], None]) -> Callable[[Any], None]:
    """The job's chunk writer; ``refused()`` runs when the job no longer takes chunks."""
    index = itertools.count()

    def emit(chunk: Any) -> None:
        # Between chunks is where a streaming handler learns it was cancelled or removed.
        if not store.push_chunk(job, chunk, next(index)):
            refused()

    return emit


def _execute(celery: JobgateCelery, worker: process.WorkerProcess, job: Job) -> str:
    emit = _emitter(celery.context.store, job, lambda: worker.stopper.interrupt(stopper.CANCELLED))

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

    return _settle(celery, worker, job, lambda: worker.stopper.call(job, call))


def _run_concurrent(
    celery: JobgateCelery, worker: process.WorkerProcess, runner: Runner, endpoint_id: str, job_id: str, hard_ms: int
) -> str:
    """Run one job in a concurrent process: in a slot of its endpoint, beside the others."""
    flight = runner.take(job_id, endpoint_id)  # from here a stop for this job is not lost
    try:
        if not flight.slotted:  # stopped while it waited for a slot: never started
            if flight.reason == stopper.SHUTDOWN:
                raise Reject(f"job {job_id} not started before shutdown: back to its queue", requeue=True)
            return "SKIPPED"
        job = _start(celery.context, worker, endpoint_id, job_id, hard_ms)
        if isinstance(job, str):
            return job
        worker.job_started(job.id, endpoint_id)
        try:
            return _settle(celery, worker, job, lambda: _launch(celery, worker, runner, flight, job))
        finally:
            worker.job_ended(job.id)
    finally:
        runner.release(flight, endpoint_id)


def _launch(
    celery: JobgateCelery, worker: process.WorkerProcess, runner: Runner, flight: InFlight, job: Job
) -> runtime.Outcome:
    """Start the job's handler (loop task, thread or batch) and wait for its outcome."""
    store = celery.context.store

    def refused() -> None:
        raise JobStopped(stopper.CANCELLED)

    def expire() -> None:
        try:
            store.remove(job)
        except Exception as exc:  # the record expires by itself anyway
            log.warning("cannot remove expired job %s: %s", job.id, exc)
        if flight.stop(stopper.EXPIRED):
            log.info("job %s passed its ttl: stopping it", job.id)

    # Celery's time limits exist only in its prefork pool: the loop thread keeps this job's.
    flight.after(job.execution_timeout_ms / 1000, flight.stop, stopper.TIMED_OUT)
    if job.ttl_ms > 0:
        flight.after(max(0.0, (job.deadline_ms - now_ms()) / 1000), expire)
    handler = worker.handler(job.endpoint)
    payload = {"id": job.id, "input": job.input}
    batcher = runner.batchers.get(job.endpoint)
    if batcher is not None:
        batcher.submit(payload, flight)
    else:
        rp_config = runpod_compat.config_for(handler)
        aggregate = rp_config.return_aggregate_stream if rp_config else True
        emit = _emitter(store, job, refused)
        if is_async(handler):
            run_on_loop(flight, runtime.execute_async(handler, payload, emit, aggregate, runner.offload))
        else:
            run_in_thread(flight, lambda: runtime.execute(handler, payload, emit, aggregate), f"jobgate-job-{job.id}")
    outcome = flight.wait()
    if flight.reason is not None:  # stopped as it ended: the stop wins, its output is discarded
        raise JobStopped(flight.reason)
    return outcome


def _settle(celery: JobgateCelery, worker: process.WorkerProcess, job: Job, call: Callable[[], runtime.Outcome]) -> str:
    """Run ``call`` (the handler) and record how it ended; returns the status."""
    try:
        outcome = call()
    except JobStopped as stop:
        return _stopped(celery, job, stop.reason)
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


def _stopped(celery: JobgateCelery, job: Job, reason: str) -> str:
    log.info("job %s stopped: %s", job.id, reason)
    if reason == stopper.EXPIRED:
        celery.context.store.remove(job)
        return "REMOVED"
    if reason == stopper.TIMED_OUT:
        return _end(celery, job, JobStatus.TIMED_OUT, error=timeout_error(job.execution_timeout_ms))
    if reason == stopper.SHUTDOWN:
        # The worker's grace ran out: the message goes back to its queue (not acknowledged).
        raise Reject(f"job {job.id} still running at shutdown: back to its queue", requeue=True)
    return _end(celery, job, JobStatus.CANCELLED)  # nothing to do when /cancel wrote it


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
