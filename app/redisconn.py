"""The one way a Redis client is made, so every part shares the same options."""
from __future__ import annotations

from redis import BlockingConnectionPool, Redis

from .settings import Settings


def connect(settings: Settings, **options) -> Redis:
    """A Redis client for ``settings.redis_url`` (connects lazily, on first command).

    The pool blocks rather than fails when every connection is busy, so a burst of
    concurrent requests queues for a connection instead of erroring.
    """
    options.setdefault("decode_responses", True)
    options.setdefault("health_check_interval", 30)
    options.setdefault("socket_connect_timeout", 5)
    options.setdefault("socket_keepalive", True)
    pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=settings.redis_max_connections,
                                           timeout=20, **options)
    return Redis(connection_pool=pool)


def ping(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers at ``url``."""
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except Exception:
        return False
