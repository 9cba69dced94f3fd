"""The one way a Redis client is made, so every part shares the same options."""

from __future__ import annotations

from redis import BlockingConnectionPool, Redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from ..core.settings import Settings

# Backoff cap between reconnection attempts of a patient client (s).
RETRY_CAP_S = 1.0


def retry_policy(patience_s: float) -> Retry:
    """How a client rides out a lost connection: one immediate retry (a pooled connection
    that went stale when Redis restarted), or retries for about ``patience_s`` seconds."""
    if patience_s <= 0:
        return Retry(NoBackoff(), 1)
    return Retry(ExponentialBackoff(cap=RETRY_CAP_S, base=0.05), int(patience_s / RETRY_CAP_S) + 5)


def connect(settings: Settings, patience_s: float = 0.0, **options) -> Redis:
    """A Redis client for ``settings.redis_url`` (connects lazily, on first command).

    The pool blocks rather than fails when every connection is busy, so a burst of
    concurrent requests queues for a connection instead of erroring. ``patience_s``:
    how long a command keeps retrying while Redis is unreachable (0: fail at once).
    """
    options.setdefault("retry", retry_policy(patience_s))
    options.setdefault("decode_responses", True)
    options.setdefault("health_check_interval", 30)
    options.setdefault("socket_connect_timeout", 5)
    options.setdefault("socket_keepalive", True)
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=settings.redis_max_connections, timeout=20, **options
    )
    return Redis(connection_pool=pool)


def ping(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers at ``url``."""
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except Exception:
        return False
