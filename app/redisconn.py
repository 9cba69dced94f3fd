"""The one way a Redis client is made, so every part shares the same options."""
from __future__ import annotations

from redis import Redis

from .settings import Settings


def connect(settings: Settings, **options) -> Redis:
    """A Redis client for ``settings.redis_url`` (connects lazily, on first command)."""
    options.setdefault("decode_responses", True)
    options.setdefault("health_check_interval", 30)
    options.setdefault("socket_connect_timeout", 5)
    options.setdefault("socket_keepalive", True)
    return Redis.from_url(settings.redis_url, **options)


def ping(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers at ``url``."""
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except Exception:
        return False
