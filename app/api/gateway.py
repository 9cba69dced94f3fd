"""The gateway's parts, wired once per app from one context, and the one way views reach them."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from ..core.clock import now_ms
from ..core.endpoints import Endpoint
from ..core.errors import JobNotFound, NotFound
from ..core.job import Job
from ..core.queueing import why_waiting
from ..core.states import JobStatus
from ..store.context import Context
from ..store.fleet import state_for
from .dispatch import Dispatcher, make_producer
from .reaper import Reaper
from .waiting import CompletionWaiter, wait_for_end

EXTENSION = "jobgate"


class Gateway:
    """Everything a view needs: the context's parts, the dispatcher, the waiter, the reaper."""

    def __init__(self, context: Context):
        self.context = context
        self.settings = context.settings
        self.registry = context.registry
        self.redis = context.redis
        self.store = context.store
        self.fleet = context.fleet
        self.metrics = context.metrics
        self.apikeys = context.apikeys
        self.limiter = context.limiter
        self.celery = make_producer(context)
        self.dispatcher = Dispatcher(self.celery, context)
        keys = context.keys
        self.waiter = CompletionWaiter(self.redis, keys.done_channel, keys.chunk_channel, keys.progress_channel)
        self.reaper = Reaper(context, self.dispatcher)

    @classmethod
    def attach(cls, app: Flask, context: Context) -> Gateway:
        """Build the gateway for ``app``; views reach it with ``current_gateway()``."""
        gateway = app.extensions[EXTENSION] = cls(context)
        return gateway

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint, or NotFound."""
        endpoint = self.registry.get(endpoint_id)
        if endpoint is None:
            raise NotFound(f"endpoint {endpoint_id!r} not found")
        return endpoint

    def job(self, endpoint_id: str, job_id: str) -> Job:
        """The job, only through the endpoint it was submitted to; else NotFound."""
        self.endpoint(endpoint_id)
        job = self.store.get(job_id)
        if job is None:
            raise self.missing(endpoint_id, job_id)
        if job.endpoint != endpoint_id:
            raise JobNotFound(job_id)
        if job.status is JobStatus.IN_QUEUE and now_ms() >= job.deadline_ms:
            # Past its ttl, kept only until the reaper sends its EXPIRED webhook.
            raise self.missing(endpoint_id, job_id)
        return job

    def missing(self, endpoint_id: str, job_id: str) -> JobNotFound:
        """The 404 for a job that is not here: when and why it went, while its tombstone lasts;
        else ``job <id> not found``."""
        gone = self.store.gone(endpoint_id, job_id)
        if gone is None:
            return JobNotFound(job_id)
        return JobNotFound(job_id, gone.message(job_id, self.settings), gone.fields())

    def why_waiting(self, job: Job) -> dict[str, Any]:
        """A queued job's place in its endpoint's waiting order and why it waits: O(log n) in the
        queue's length, plus one read per live worker of the endpoint."""
        place = self.store.queue_place(job.endpoint, job.id)
        at = now_ms()
        states = [state_for(w, job.endpoint) for w in self.fleet.workers(job.endpoint, at)]
        return why_waiting(job.endpoint, place, job.low_priority, states)

    def wait_for(self, endpoint_id: str, job_id: str, wait_ms: int) -> Job:
        """The job once it has ended, or as it is when ``wait_ms`` has passed."""
        try:
            return wait_for_end(self.store, self.waiter, job_id, wait_ms)
        except JobNotFound:
            raise self.missing(endpoint_id, job_id) from None


def current_gateway() -> Gateway:
    """The gateway of the app handling this request."""
    gateway: Gateway = current_app.extensions[EXTENSION]
    return gateway
