"""kombu's Redis layout, known here and nowhere else: the lists of a queue's priority lanes,
the unacknowledged-message hash, restoring a message from it, and the transport options
(and the rest of the Celery configuration) that the gateway and the workers must share.
"""

from __future__ import annotations

import json
from typing import Any, cast

from kombu import Connection, Queue
from redis import Redis

from ..core.contract import PRIORITY_STEPS, WEBHOOK_QUEUE
from ..core.endpoints import Registry, visibility_timeout_s
from ..core.settings import Settings

PRIORITY_SEP = "\x06\x16"  # kombu's separator between a queue name and its priority lane


def lane_lists(queue: str) -> list[str]:
    """The Redis lists that hold one Celery queue's messages, one per priority lane."""
    return [queue if p == 0 else f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS]


def transport_options(settings: Settings, registry: Registry) -> dict[str, Any]:
    """kombu's Redis transport options, the same for every producer and consumer."""
    return {
        "visibility_timeout": visibility_timeout_s(registry, settings),
        "priority_steps": PRIORITY_STEPS,
        "sep": PRIORITY_SEP,
        "queue_order_strategy": "priority",
        # kombu fails (rather than waits) past this many connections per channel;
        # the gateway's dispatcher keeps concurrent publishes below it.
        "max_connections": settings.redis_max_connections,
    }


def celery_options(settings: Settings, registry: Registry) -> dict[str, Any]:
    """The Celery configuration both sides share: broker, serialization, queues, acks."""
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "result_expires": settings.result_ttl_async_s,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_queues": [Queue(e.queue) for e in registry] + [Queue(WEBHOOK_QUEUE)],
        "task_default_queue": next(iter(registry)).queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        # No task-sent event: it would double the gateway's Redis round trips per /run;
        # Flower learns of a job from the worker's task-received event instead.
        "task_send_sent_event": False,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options(settings, registry),
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
    }


def _job_id(raw: str | bytes, *path: Any) -> str | None:
    try:
        value: Any = json.loads(raw)
        for step in path:
            value = value[step]
        return str(value)
    except (ValueError, LookupError, TypeError):
        return None


def queued_ids(redis: Redis, queue: str) -> set[str]:
    """Ids of the jobs whose messages wait in ``queue``, in any lane."""
    ids = set()
    for name in lane_lists(queue):
        for raw in cast(list[str], redis.lrange(name, 0, -1)):
            job_id = _job_id(raw, "headers", "id")
            if job_id:
                ids.add(job_id)
    return ids


def restore_unacked(settings: Settings, registry: Registry, started: dict[str, int]) -> set[str]:
    """Put the unacknowledged messages of these jobs back at the head of their queues.

    ``started`` maps a job id to when its lost run started (ms): only a message delivered
    before that is restored, since one delivered later belongs to a live worker that
    already took the job again. kombu itself restores each message (its own lane rules).
    """
    restored = set()
    with Connection(settings.redis_url, transport_options=transport_options(settings, registry)) as conn:
        channel: Any = conn.default_channel
        client = channel.client
        for tag, raw in client.hscan_iter(channel.unacked_key):
            job_id = _job_id(raw, 0, "headers", "id")
            if job_id not in started:
                continue
            delivered_s = client.zscore(channel.unacked_index_key, tag)
            if delivered_s is not None and delivered_s * 1000 <= started[job_id]:
                # leftmost=False: the end of the list the workers pop next.
                channel.qos.restore_by_tag(tag, client=client, leftmost=False)
                restored.add(job_id)
    return restored
