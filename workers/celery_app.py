"""The workers' Celery app, built in one place from the one context.

The configuration the gateway shares (broker, queues, acks) comes from ``app.store.broker``;
what is added here concerns consuming: prefetch, shutdown, events, the tasks themselves.
"""

from __future__ import annotations

from app.store import broker
from app.store.context import Context

from . import tasks, webhooks
from .celery_base import JobgateCelery

# How long a worker's Redis writes (job outcome, heartbeat) keep retrying while Redis restarts.
WORKER_REDIS_PATIENCE_S = 30.0


def make_celery(context: Context) -> JobgateCelery:
    """Build the workers' Celery app for this context (one queue per endpoint) with its tasks."""
    settings = context.settings
    celery = JobgateCelery(context)
    celery.conf.update(broker.celery_options(settings, context.registry))
    celery.conf.update(
        worker_prefetch_multiplier=1,
        # SIGTERM (remapped to Celery's cold shutdown by `jobgate worker`) waits this long for
        # running jobs, then stops them; their unacknowledged messages go back to the queue.
        worker_soft_shutdown_timeout=float(settings.worker_grace_s),
        # An idle worker has nothing to wait for (jobgate sends no ETA tasks).
        worker_enable_soft_shutdown_on_idle=False,
        worker_send_task_events=True,
        worker_hijack_root_logger=False,
    )
    tasks.register(celery)
    webhooks.register(celery)
    return celery
