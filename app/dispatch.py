"""Translate API operations into Celery work: submit, revoke, re-send, purge."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Mapping

from celery import Celery
from kombu.exceptions import OperationalError

from workers import webhooks
from workers.celery_app import LOW_PRIORITY, NORMAL_PRIORITY, TASK_NAME, broker_lists
from workers.stopper import STOP_SIGNAL_NAME
from workers.tasks import time_limits

from .endpoints import Endpoint
from .errors import BadRequest, ServiceUnavailable
from .jobstore import Job, JobStore
from .states import JobStatus

log = logging.getLogger(__name__)


class Dispatcher:
    """Owns every message the gateway sends to workers."""

    def __init__(self, celery: Celery, store: JobStore, max_concurrent_sends: int = 64):
        self.celery = celery
        self.store = store
        # kombu's Redis pool raises "Too many connections" instead of waiting; under gevent
        # hundreds of requests may publish at once, so they queue here for a slot.
        self._send_slots = threading.BoundedSemaphore(max_concurrent_sends)

    def submit(self, endpoint: Endpoint, body: Mapping[str, Any], *, sync: bool) -> Job:
        """Record a job as IN_QUEUE, then queue it on the endpoint's Celery queue."""
        policy = body.get("policy") or {}
        timeout_ms = policy.get("executionTimeout") or endpoint.execution_timeout_ms
        if timeout_ms > endpoint.max_execution_timeout_ms:
            # The broker's visibility timeout is derived from this cap (workers/celery_app.py).
            raise BadRequest(f"policy.executionTimeout is above this endpoint's limit of "
                             f"{endpoint.max_execution_timeout_ms} ms",
                             errors={"policy": {"executionTimeout": [
                                 f"at most {endpoint.max_execution_timeout_ms} on this endpoint"]}})
        extra = {"s3Config": body["s3Config"]} if body.get("s3Config") else None
        job = self.store.create(
            endpoint.id, body["input"], sync=sync, webhook=body.get("webhook"),
            execution_timeout_ms=timeout_ms,
            ttl_ms=policy.get("ttl"), low_priority=bool(policy.get("lowPriority")), extra=extra)
        self.send(endpoint, job)
        log.info("job submitted (%s)", job.mode,
                 extra={"event": "job.submitted", "endpoint": endpoint.id, "job_id": job.id})
        return job

    def send(self, endpoint: Endpoint, job: Job) -> None:
        """Put a recorded job's message on its queue (also used by retry)."""
        soft, hard = time_limits(job.execution_timeout_ms)
        try:
            with self._send_slots:
                self.celery.send_task(
                    TASK_NAME, args=(endpoint.id, job.id), task_id=job.id, queue=endpoint.queue,
                    priority=LOW_PRIORITY if job.low_priority else NORMAL_PRIORITY,
                    soft_time_limit=soft, time_limit=hard, retry=False,
                    # The outcome lives in the job store: without this Celery would subscribe to
                    # the result backend for every job sent (two more Redis commands per /run).
                    ignore_result=True,
                    # policy.ttl: Celery drops a message still queued at the job's deadline.
                    expires=datetime.fromtimestamp(job.deadline_ms / 1000, timezone.utc))
        except OperationalError as exc:
            # The record exists but no worker will see it: end it rather than leave it queued.
            self.store.finish(job, JobStatus.FAILED, error=f"could not queue the job: {exc}",
                              allowed_from=(JobStatus.IN_QUEUE,))
            raise ServiceUnavailable("the job queue is unreachable; try again",
                                     headers={"Retry-After": "5"}) from exc

    def cancel(self, job: Job) -> bool:
        """Cancel a queued or running job; a running one is stopped on its worker.

        The record says CANCELLED first (so the answer is immediate and no worker can
        overwrite it); then Celery revokes the task: a queued message is dropped, and the
        process running it gets STOP_SIGNAL, which raises JobStopped inside the handler
        and keeps the process (see workers/stopper.py).
        """
        if not self.store.cancel(job):
            return False
        self.celery.control.revoke(job.id, terminate=True, signal=STOP_SIGNAL_NAME)
        webhooks.notify(self.celery, job)
        log.info("job cancelled", extra={"event": "job.cancelled", "endpoint": job.endpoint, "job_id": job.id})
        return True

    def purge(self, endpoint: Endpoint) -> int:
        """Drop every queued job of one endpoint, records and messages together."""
        removed = self.store.purge(endpoint.id, broker_lists(endpoint.queue))
        log.info("queue purged: %d job(s) removed", removed, extra={"event": "queue.purged", "endpoint": endpoint.id})
        return removed
