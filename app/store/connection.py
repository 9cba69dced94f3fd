"""The one way a Redis client is made, so every part shares the same options."""

from __future__ import annotations

from typing import Any

from redis import BlockingConnectionPool, Redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from ..core.redisurl import SentinelTarget, is_sentinel, parse_sentinel
from ..core.settings import Settings

# Backoff cap between reconnection attempts of a patient client (s).
RETRY_CAP_S = 1.0
# How long one question to a sentinel may take (s): a dead sentinel must not stall a request.
SENTINEL_TIMEOUT_S = 0.5


class SentinelBlockingConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (connections follow the master the sentinels name) that
    blocks, like the plain pool, when every connection is busy."""


def retry_policy(patience_s: float) -> Retry:
    """How a client rides out a lost connection: one immediate retry (a pooled connection
    that went stale when Redis restarted), or retries for about ``patience_s`` seconds."""
    if patience_s <= 0:
        return Retry(NoBackoff(), 1)
    return Retry(ExponentialBackoff(cap=RETRY_CAP_S, base=0.05), int(patience_s / RETRY_CAP_S) + 5)


def sentinel_manager(target: SentinelTarget) -> Sentinel:
    """redis-py's Sentinel for ``target`` (the sentinels themselves need no password)."""
    timeouts = {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S}
    return Sentinel(list(target.sentinels), sentinel_kwargs=timeouts)


def connect(settings: Settings, patience_s: float = 0.0, **options: Any) -> Redis:
    """A Redis client for ``settings.redis_url`` (connects lazily, on first command).

    The pool blocks rather than fails when every connection is busy, so a burst of
    concurrent requests queues for a connection instead of erroring. ``patience_s``:
    how long a command keeps retrying while Redis is unreachable (0: fail at once).
    With a ``redis+sentinel://`` URL every new connection asks the sentinels for the
    master, so the client follows a failover by itself.
    """
    options.setdefault("retry", retry_policy(patience_s))
    options.setdefault("decode_responses", True)
    options.setdefault("health_check_interval", 30)
    options.setdefault("socket_connect_timeout", 5)
    options.setdefault("socket_keepalive", True)
    url = settings.redis_url
    if is_sentinel(url):
        target = parse_sentinel(url)
        pool: BlockingConnectionPool = SentinelBlockingConnectionPool(
            target.master,
            sentinel_manager(target),
            db=target.db,
            password=target.password,
            max_connections=settings.redis_max_connections,
            timeout=20,
            **options,
        )
    else:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=settings.redis_max_connections, timeout=20, **options
        )
    return Redis(connection_pool=pool)


def ping(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers at ``url`` (for a Sentinel URL: the master it names)."""
    try:
        if is_sentinel(url):
            target = parse_sentinel(url)
            client = sentinel_manager(target).master_for(
                target.master,
                db=target.db,
                password=target.password,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
            )
            return bool(client.ping())
        return bool(Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except Exception:
        return False
