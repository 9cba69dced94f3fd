"""The gateway's parts, wired once per app: settings, endpoints, store, fleet, dispatcher, waiter."""
from __future__ import annotations

import time

from celery import Celery

from .apikeys import KeyStore
from .dispatch import Dispatcher
from .endpoints import Endpoint, Registry
from .errors import NotFound
from .fleet import Fleet
from .jobstore import Job, JobStore
from .metrics import JobMetrics
from .ratelimit import Limiter
from .settings import Settings
from .waiter import CompletionWaiter


class Gateway:
    """Everything a view needs, reachable as ``current_app.extensions['jobgate']``."""

    def __init__(self, settings: Settings, registry: Registry, celery: Celery):
        ctx = celery.jobgate  # type: ignore[attr-defined]
        self.settings = settings
        self.registry = registry
        self.celery = celery
        self.redis = ctx.redis
        self.store: JobStore = ctx.store
        self.fleet: Fleet = ctx.fleet
        self.metrics: JobMetrics = self.store.metrics
        self.dispatcher = Dispatcher(celery, self.store, max(1, settings.redis_max_connections // 2))
        self.waiter = CompletionWaiter(self.redis, self.store.keys.done_channel,
                                       self.store.keys.chunk_channel)
        self.limiter = Limiter(self.redis, self.store.keys)
        self.apikeys = KeyStore(self.redis, self.store.keys)

    def endpoint(self, endpoint_id: str) -> Endpoint:
        endpoint = self.registry.get(endpoint_id)
        if endpoint is None:
            raise NotFound(f"endpoint {endpoint_id!r} not found")
        return endpoint

    def wait_for(self, job_id: str, wait_ms: int) -> Job:
        """The job once it has ended, or as it is when ``wait_ms`` has passed."""
        deadline = time.monotonic() + wait_ms / 1000
        with self.waiter.watch(job_id) as changed:
            while True:
                job = self.store.get(job_id)
                if job is None:
                    raise NotFound(f"job {job_id} not found (unknown, purged or expired)")
                remaining = deadline - time.monotonic()
                if job.status.is_terminal() or remaining <= 0:
                    return job
                changed.wait(remaining)
                changed.clear()
