"""The Celery side of a concurrent worker process: its thread pool, its requests, its prefetch.

Celery's thread pool runs each taken message in a pool thread (acks late, as everywhere);
jobgate's task hands the handler to the process's event loop, a thread of its own or a
batch, and waits for its outcome. What differs from Celery's stock thread pool:

- a revoke with terminate (``/cancel``) cannot signal one job of a shared process: the pool
  ignores ``terminate_job`` and the task's Request stops that one job (``JobRequest``);
- at a cold shutdown past the grace, Celery cancels the running requests: each job is
  stopped and its message goes back to the queue;
- the consumer's prefetch follows the process's slots (``SlotsStep``), so that a change of a
  RunPod ``concurrency_modifier`` applies at once.

Importing this module imports billiard: ``jobgate worker`` does so only after setting
REMAP_SIGTERM, and tasks name ``JobRequest`` by string.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps
from celery.concurrency.thread import TaskPool

from . import process
from .recycle import RecyclingRequest
from .stopper import CANCELLED, SHUTDOWN

POOL = "workers.pool:SlotPool"
# Pool threads beyond the job slots, for webhook deliveries.
SPARE_THREADS = 2


class SlotPool(TaskPool):
    """Celery's thread pool, without process signals."""

    def terminate_job(self, pid: int, signal: Any = None) -> None:
        """Nothing to signal: JobRequest stops the one job (this pool's threads share a pid)."""


class JobRequest(RecyclingRequest):
    """A job's task request: in a concurrent process, a revoke or a shutdown stops that job only."""

    def terminate(self, pool: Any, signal: Any = None) -> None:
        _stop(self.id, CANCELLED)
        super().terminate(pool, signal)

    def cancel(self, pool: Any, signal: Any = None, emit_retry: bool = True) -> None:
        _stop(self.id, SHUTDOWN)
        super().cancel(pool, signal, emit_retry)


def _stop(job_id: str, reason: str) -> None:
    worker = process.active()
    if worker is not None and worker.runner is not None:
        worker.runner.stop(job_id, reason)


class SlotsStep(bootsteps.StartStopStep):
    """Keeps the consumer's prefetch equal to this process's job slots."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c: Any) -> None:
        worker = process.active()
        if worker is not None and worker.runner is not None:
            worker.runner.capacity.attach(c.qos)
