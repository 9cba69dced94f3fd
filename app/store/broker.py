"""kombu's Redis layout, known here and nowhere else: the lists of a queue's priority lanes,
the unacknowledged-message hash, restoring a message from it, and the transport options
(and the rest of the Celery configuration) that the gateway and the workers must share.
"""

from __future__ import annotations

import json
from typing import Any, cast

from kombu import Connection, Queue
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis import Redis

from ..core.contract import PRIORITY_STEPS, WEBHOOK_QUEUE
from ..core.endpoints import Registry, visibility_timeout_s
from ..core.redisurl import is_sentinel, parse_sentinel
from ..core.settings import Settings

PRIORITY_SEP = "\x06\x16"  # kombu's separator between a queue name and its priority lane


def lane_lists(queue: str) -> list[str]:
    """The Redis lists that hold one Celery queue's messages, one per priority lane."""
    return [queue if p == 0 else f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS]


def broker_url(settings: Settings) -> str:
    """kombu's URL for REDIS_URL: the same URL, or one ``sentinel://`` URL per sentinel."""
    if is_sentinel(settings.redis_url):
        return parse_sentinel(settings.redis_url).kombu_url()
    return settings.redis_url


class NoSwitching:
    """kombu's failover strategy for Sentinel URLs: never switch to "the next URL".

    Every ``sentinel://`` URL of the list names the same sentinels (kombu hands all of them to
    redis-py's Sentinel, which finds the master), so switching gains nothing; and a switch
    closes the connection's transport while its old channel lives on, which made the next
    broker loss crash the worker (kombu 5.7: "'NoneType' object has no attribute 'hostname'"
    in restore_unacked). An iterator that is false makes ``maybe_switch_next`` a no-op.
    """

    def __init__(self, urls: list[str]):
        self.url = urls[0]

    def __next__(self) -> str:
        return self.url

    def __iter__(self) -> NoSwitching:
        return self

    def __bool__(self) -> bool:
        return False


class _SentinelChannel(kombu_redis.SentinelChannel):
    """kombu's Sentinel channel, able to reconnect after its transport was closed under it.

    On a lost broker, Celery's consumer collects the connection (closing its transport) and
    then closes it, and only then does the channel give its unacknowledged messages back, or
    acknowledge a task that ended meanwhile; both need a new pool, built from the transport's
    connection info, which is gone by then (kombu 5.7: "'NoneType' object has no attribute
    'hostname'", and the worker stops). The channel keeps its own copy to build it from.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._conninfo = self.connection.client

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            self.connection.client = self._conninfo
        return super()._connparams(asynchronous=asynchronous)


class SentinelTransport(kombu_redis.SentinelTransport):
    """kombu's ``sentinel://`` transport with the channel above."""

    Channel = _SentinelChannel


# kombu picks a transport by the URL's scheme: ``sentinel://`` URLs get the one above and keep
# their scheme (Flower's broker page and the workers' logs read it from the URL).
TRANSPORT_ALIASES["sentinel"] = f"{__name__}:SentinelTransport"


def sentinel_options(settings: Settings) -> dict[str, Any]:
    """What kombu and Celery's result backend need besides the URL to find a Sentinel master."""
    if not is_sentinel(settings.redis_url):
        return {}
    # Flower's broker page reads master_name from the broker's transport options too.
    return {"master_name": parse_sentinel(settings.redis_url).master}


def transport_options(settings: Settings, registry: Registry) -> dict[str, Any]:
    """kombu's Redis transport options, the same for every producer and consumer."""
    return {
        **sentinel_options(settings),
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
        "broker_url": broker_url(settings),
        "result_backend": broker_url(settings),
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
        "broker_failover_strategy": NoSwitching if is_sentinel(settings.redis_url) else None,
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}, **sentinel_options(settings)},
    }


def _job_id(raw: str | bytes, *path: Any) -> str | None:
    try:
        value: Any = json.loads(raw)
        for step in path:
            value = value[step]
        return str(value)
    except (ValueError, LookupError, TypeError):
        return None


# kombu's hash of delivered, unacknowledged messages, and its index of when each was delivered
# (their default names; jobgate sets no prefix).
UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"


def oldest_id(redis: Redis, lane: str) -> tuple[bool, str | None]:
    """Whether ``lane`` holds a message, and the job id of the one workers take next (kombu
    pushes on the left and pops on the right)."""
    raw = redis.lindex(lane, -1)
    if raw is None:
        return False, None
    return True, _job_id(cast(str, raw), "headers", "id")


def held_ids(redis: Redis) -> set[str]:
    """Ids of the jobs whose messages a worker holds (delivered, not yet acknowledged)."""
    ids = set()
    for _, raw in redis.hscan_iter(UNACKED_KEY):
        job_id = _job_id(raw, 0, "headers", "id")
        if job_id:
            ids.add(job_id)
    return ids


def held_since(redis: Redis) -> dict[str, float]:
    """Each held message's job id, with when it was delivered (s); a job held twice keeps the
    later delivery."""
    pipe = redis.pipeline(transaction=False)
    tags, ids = [], []
    for tag, raw in redis.hscan_iter(UNACKED_KEY):
        job_id = _job_id(raw, 0, "headers", "id")
        if job_id:
            tags.append(tag)
            ids.append(job_id)
            pipe.zscore(UNACKED_INDEX_KEY, tag)
    held: dict[str, float] = {}
    for job_id, delivered in zip(ids, pipe.execute() if tags else []):
        if delivered is not None:
            held[job_id] = max(held.get(job_id, 0.0), float(delivered))
    return held


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
    with Connection(
        broker_url(settings),
        transport_options=transport_options(settings, registry),
        failover_strategy=NoSwitching,
    ) as conn:
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
