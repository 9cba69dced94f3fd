"""The Celery app, built in one place from one settings object and the endpoint registry."""
from __future__ import annotations

from functools import cached_property

from celery import Celery
from kombu import Queue

from app.endpoints import Registry
from app.fleet import Fleet
from app.jobstore import JobStore
from app.keys import Keys
from app.redisconn import connect
from app.settings import Settings

TASK_NAME = "jobgate.run_job"
# Redis sorts priorities ascending: 0 is taken first, 9 only when the 0 lane is empty.
NORMAL_PRIORITY, LOW_PRIORITY = 0, 9
PRIORITY_STEPS = [NORMAL_PRIORITY, LOW_PRIORITY]
PRIORITY_SEP = "\x06\x16"  # kombu's separator between a queue name and its priority lane
# The longest execution timeout a job may ask for (policy.executionTimeout), plus a margin:
# the broker must never hand a still-running job to a second worker.
MAX_EXECUTION_TIMEOUT_MS = 7 * 86_400_000
VISIBILITY_MARGIN_S = 3600


def broker_lists(queue: str) -> list[str]:
    """The Redis lists that hold one Celery queue's messages, one per priority lane."""
    return [queue if p == 0 else f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS]


def visibility_timeout_s(registry: Registry) -> int:
    """How long an unacknowledged message stays with its worker before redelivery."""
    longest = max(MAX_EXECUTION_TIMEOUT_MS, registry.max_execution_timeout_ms)
    return longest // 1000 + VISIBILITY_MARGIN_S


class Context:
    """What the gateway and the tasks share: settings, endpoints, and lazily made clients.

    Clients are made on first use, so nothing connects at import or before a fork.
    """

    def __init__(self, settings: Settings, registry: Registry):
        self.settings = settings
        self.registry = registry
        self.keys = Keys(settings.key_prefix)

    @cached_property
    def redis(self):
        return connect(self.settings)

    @cached_property
    def store(self) -> JobStore:
        return JobStore(self.redis, self.settings)

    @cached_property
    def fleet(self) -> Fleet:
        return Fleet(self.redis, self.keys, self.settings.heartbeat_s)


def make_celery(settings: Settings, registry: Registry) -> Celery:
    """Build the Celery app for these settings and endpoints (one queue per endpoint)."""
    from . import webhooks

    celery = Celery("jobgate", set_as_current=False)
    celery.conf.update(
        broker_url=settings.redis_url,
        result_backend=settings.redis_url,
        result_expires=settings.result_ttl_async_s,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(e.queue) for e in registry] + [Queue(webhooks.QUEUE)],
        task_default_queue=next(iter(registry)).queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        # No task-sent event: it would double the gateway's Redis round trips per /run;
        # Flower learns of a job from the worker's task-received event instead.
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s(registry),
            "priority_steps": PRIORITY_STEPS,
            "sep": PRIORITY_SEP,
            "queue_order_strategy": "priority",
            # kombu fails (rather than waits) past this many connections per channel;
            # the dispatcher keeps concurrent publishes below it.
            "max_connections": settings.redis_max_connections,
        },
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
    )
    celery.jobgate = Context(settings, registry)  # type: ignore[attr-defined]
    from . import tasks  # registers the task on this app

    tasks.register(celery)
    webhooks.register(celery)
    return celery
