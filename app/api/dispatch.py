"""Translate API operations into Celery work: submit, revoke, re-send, purge.

The gateway's Celery app is a producer only: it sends by task name (``app.core.contract``)
and never imports the workers' code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from ..core.contract import STOP_SIGNAL_NAME, job_message
from ..core.destinations import DestinationRefused
from ..core.endpoints import Endpoint
from ..core.errors import BadRequest, ServiceUnavailable
from ..core.job import Job, error_text
from ..core.states import JobStatus
from ..store import broker
from ..store.context import Context
from ..store.outbox import queue_webhook

log = logging.getLogger(__name__)
# Seconds a caller should wait when the job queue cannot be reached.
QUEUE_RETRY_AFTER_S = 5
# Seconds a caller should wait when no replica confirmed its job (a failover is under way).
REPLICA_RETRY_AFTER_S = 2


def make_producer(context: Context) -> Celery:
    """The gateway's Celery app: the workers' broker configuration, no tasks of its own."""
    celery = Celery("jobgate", set_as_current=False)
    celery.conf.update(broker.celery_options(context.settings, context.registry))
    return celery


class Dispatcher:
    """Owns every message the gateway sends to workers."""

    def __init__(self, celery: Celery, context: Context):
        self.celery = celery
        self.context = context
        self.store = context.store
        # kombu's Redis pool raises "Too many connections" instead of waiting; under gevent
        # hundreds of requests may publish at once, so they queue here for a slot.
        self._send_slots = threading.BoundedSemaphore(max(1, context.settings.redis_max_connections // 2))

    def submit(self, endpoint: Endpoint, body: Mapping[str, Any], *, sync: bool, job_id: str | None = None) -> Job:
        """Record a job as IN_QUEUE, then queue it on the endpoint's Celery queue."""
        policy = body.get("policy") or {}
        timeout_ms = policy.get("executionTimeout") or endpoint.execution_timeout_ms
        if timeout_ms > endpoint.max_execution_timeout_ms:
            # The broker's visibility timeout is derived from this cap (app/core/contract.py).
            raise BadRequest(
                f"policy.executionTimeout is above this endpoint's limit of {endpoint.max_execution_timeout_ms} ms",
                errors={
                    "policy": {"executionTimeout": [f"at most {endpoint.max_execution_timeout_ms} on this endpoint"]}
                },
            )
        if body.get("webhook"):
            self.check_webhook(body["webhook"])
        extra = {"s3Config": body["s3Config"]} if body.get("s3Config") else None
        job = self.store.create(
            endpoint.id,
            body["input"],
            sync=sync,
            webhook=body.get("webhook"),
            execution_timeout_ms=timeout_ms,
            ttl_ms=policy.get("ttl"),
            low_priority=bool(policy.get("lowPriority")),
            extra=extra,
            job_id=job_id,
        )
        self.send(job)
        if self.context.settings.redis_min_replicas:
            self.replicate(job)
        log.info(
            "job submitted (%s)", job.mode, extra={"event": "job.submitted", "endpoint": endpoint.id, "job_id": job.id}
        )
        return job

    def check_webhook(self, url: str) -> None:
        """A 400 naming ``webhook`` unless the destination rules allow ``url`` (its host is resolved now)."""
        try:
            self.context.destinations.check_url(url)
        except DestinationRefused as exc:
            raise BadRequest(f"webhook: {exc}", errors={"webhook": [str(exc)]}) from None

    def send(self, job: Job) -> None:
        """Put a recorded job's message on its queue (also used by retry and the reaper)."""
        try:
            with self._send_slots:
                self.celery.send_task(**job_message(job))
        except OperationalError as exc:
            # The record exists but no worker will see it: end it rather than leave it queued.
            self.store.finish(
                job,
                JobStatus.FAILED,
                error=error_text("QueueUnavailable", f"could not queue the job: {exc}"),
                allowed_from=(JobStatus.IN_QUEUE,),
            )
            raise ServiceUnavailable(
                "the job queue is unreachable; try again", headers={"Retry-After": str(QUEUE_RETRY_AFTER_S)}
            ) from exc

    def replicate(self, job: Job) -> None:
        """Answer only once JOBGATE_REDIS_MIN_REPLICAS replicas hold the job's record and message,
        so that a master's crash cannot take an accepted job with it; else end it and say 503."""
        wanted = self.context.settings.redis_min_replicas
        held = self.store.replicate(job.id, wanted)
        if held >= wanted:
            return
        # Not durable: refuse it, and make sure it does not run (unless a worker already took it).
        error = f"not stored on {wanted} Redis replica(s) in time (only {held})"
        if not self.store.finish(job, JobStatus.FAILED, error=error, allowed_from=(JobStatus.IN_QUEUE,)):
            return
        log.warning("job refused: %s", error, extra={"event": "job.unreplicated", "job_id": job.id})
        raise ServiceUnavailable(
            f"the job could not be stored on {wanted} Redis replica(s); try again",
            headers={"Retry-After": str(REPLICA_RETRY_AFTER_S)},
        )

    def cancel(self, job: Job) -> bool:
        """Cancel a queued or running job; a running one is stopped on its worker.

        The record says CANCELLED first (so the answer is immediate and no worker can
        overwrite it); then Celery revokes the task: a queued message is dropped, and the
        process running it gets STOP_SIGNAL_NAME, which raises JobStopped inside the handler
        and keeps the process (see workers/stopper.py).
        """
        if not self.store.cancel(job):
            return False
        self.celery.control.revoke(job.id, terminate=True, signal=STOP_SIGNAL_NAME)
        queue_webhook(self.celery, self.store, job)
        log.info("job cancelled", extra={"event": "job.cancelled", "endpoint": job.endpoint, "job_id": job.id})
        return True

    def purge(self, endpoint: Endpoint) -> int:
        """Drop every queued job of one endpoint, records and messages together."""
        removed = self.store.purge(endpoint.id, broker.lane_lists(endpoint.queue))
        log.info("queue purged: %d job(s) removed", removed, extra={"event": "queue.purged", "endpoint": endpoint.id})
        return removed
