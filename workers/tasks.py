"""The one Celery task: take a job from the store, run its handler, record the outcome.

A prefork pool process runs one job at a time (``_take_and_run``); a concurrent process
(``max_concurrency``/``batch``, see workers/concurrent.py) runs each job in a slot of its
endpoint, beside the others (``_run_concurrent``). Either way the outcome is recorded by
``_settle`` and told to Celery by ``outcomes.tell_celery``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown

from app.core.clock import now_ms
from app.core.contract import TASK_NAME
from app.core.job import MISSING, Job, error_text
from app.core.states import JobStatus
from app.core.strictjson import JSONRefused
from app.store.context import Context
from app.store.jobstore import ChunkTooLarge, JobStore, NotStarted
from app.store.outbox import queue_expired_webhook, queue_webhook

from . import deliveries, process, runpod_compat, runtime, stopper
from .celery_base import JobgateCelery
from .concurrent import Runner, is_async
from .inflight import InFlight, run_in_thread, run_on_loop
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
    Request = "workers.pool:JobRequest"

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
    if worker.runner is not None:
        return tell_celery(task, _run_concurrent(celery, worker, worker.runner, endpoint_id, job_id, hard_ms))
    # From here a stop for this job (Celery's revoke signal) is remembered, not lost.
    with worker.stopper.taking(job_id):
        ended = _take_and_run(celery, worker, job_id, endpoint_id, hard_ms)
    if worker.recycle_requested:
        worker.recycle()
    return tell_celery(task, ended)


def _start(ctx: Context, worker: process.WorkerProcess, endpoint_id: str, job_id: str, hard_ms: int) -> Job | Ended:
    """The job, now IN_PROGRESS here; or how the delivery ended when it is not to run."""
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
    return job


def _take_and_run(
    celery: JobgateCelery, worker: process.WorkerProcess, job_id: str, endpoint_id: str, hard_ms: int
) -> Ended:
    job = _start(celery.context, worker, endpoint_id, job_id, hard_ms)
    if isinstance(job, Ended):
        return job
    worker.job_started(job.id, endpoint_id)
    try:
        return _execute(celery, worker, job)
    finally:
        worker.job_ended(job.id)


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


def _emitter(
    store: JobStore, worker: process.WorkerProcess, job: Job, refused: Callable[[], None]
) -> Callable[[Any], None]:
    """The job's chunk writer (each chunk checked first); ``refused()`` runs when the job no longer takes chunks."""
    index = itertools.count()

    def emit(chunk: Any) -> None:
        at = next(index)
        # Between chunks is where a streaming handler learns it was cancelled or removed.
        if not store.push_chunk(job, worker.outputs.chunk(chunk, at), at):
            refused()

    return emit


def _execute(celery: JobgateCelery, worker: process.WorkerProcess, job: Job) -> Ended:
    emit = _emitter(celery.context.store, worker, job, lambda: worker.stopper.interrupt(stopper.CANCELLED))

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
) -> Ended:
    """Run one job in a concurrent process: in a slot of its endpoint, beside the others."""
    flight = runner.take(job_id, endpoint_id)  # from here a stop for this job is not lost
    try:
        if not flight.slotted:  # stopped while it waited for a slot: never started
            if flight.reason == stopper.SHUTDOWN:
                raise Reject(f"job {job_id} not started before shutdown: back to its queue", requeue=True)
            return Ended(SKIPPED)
        job = _start(celery.context, worker, endpoint_id, job_id, hard_ms)
        if isinstance(job, Ended):
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
        emit = _emitter(store, worker, job, refused)
        if is_async(handler):
            run_on_loop(flight, runtime.execute_async(handler, payload, emit, aggregate, runner.offload))
        else:
            run_in_thread(flight, lambda: runtime.execute(handler, payload, emit, aggregate), f"jobgate-job-{job.id}")
    outcome = flight.wait()
    if flight.reason is not None:  # stopped as it ended: the stop wins, its output is discarded
        raise JobStopped(flight.reason)
    return outcome


def _settle(
    celery: JobgateCelery, worker: process.WorkerProcess, job: Job, call: Callable[[], runtime.Outcome]
) -> Ended:
    """Run ``call`` (the handler) and record how it ended: every output checked before it is stored."""
    worker.take_refusal(job.id)  # none left from an earlier run
    try:
        outcome = call()
    except JobStopped as stop:
        refused = worker.take_refusal(job.id)
        if stop.reason == stopper.OUTPUT_REFUSED and refused is not None:  # a progress value
            return _fail(celery, worker, job, refused)
        return _stopped(celery, job, stop)
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
    refused = worker.take_refusal(job.id)
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


def _stopped(celery: JobgateCelery, job: Job, stop: JobStopped) -> Ended:
    log.info("job %s stopped: %s", job.id, stop.reason)
    if stop.reason == stopper.EXPIRED:
        celery.context.store.remove(job)
        queue_expired_webhook(celery, job)
        return Ended(REMOVED)
    if stop.reason == stopper.TIMED_OUT:
        return _end(celery, job, JobStatus.TIMED_OUT, error=timeout_error(job.execution_timeout_ms))
    if stop.reason == stopper.SHUTDOWN:
        # The worker's grace ran out: the message goes back to its queue (not acknowledged).
        raise Reject(f"job {job.id} still running at shutdown: back to its queue", requeue=True)
    _end(celery, job, JobStatus.CANCELLED)  # nothing to do when /cancel wrote it
    return Ended(JobStatus.CANCELLED.value, revoked_by_celery=stop.by_signal)


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
