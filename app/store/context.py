"""The one context both sides are built from: settings, endpoints, and the Redis-backed parts.

Built once per process from one ``Settings`` and handed to the gateway (``create_app``) and
to the Celery app (``make_celery``). Clients are made on first use, so nothing connects at
import or before a fork.
"""

from __future__ import annotations

from functools import cached_property

from redis import Redis

from ..core.destinations import Destinations
from ..core.endpoints import Registry
from ..core.settings import Settings
from .apikeys import KeyStore
from .connection import connect
from .fleet import Fleet
from .idempotency import IdempotencyKeys
from .jobstore import JobStore
from .keys import Keys
from .limiter import Limiter
from .metrics import JobMetrics


class Context:
    """Settings, endpoint registry, Redis client, job store, fleet, keys, limiter, metrics."""

    def __init__(self, settings: Settings, registry: Registry, *, redis_patience_s: float = 0.0):
        self.settings = settings
        self.registry = registry
        self.keys = Keys(settings.key_prefix)
        # How long Redis commands keep retrying while Redis restarts (workers wait; a gateway
        # answers 503 at once instead).
        self.redis_patience_s = redis_patience_s
        # Where webhooks may go; parsed now, so a bad JOBGATE_WEBHOOK_ALLOW_NETS stops the start.
        self.destinations = Destinations.from_setting(settings.webhook_allow_nets)

    @classmethod
    def from_settings(cls, settings: Settings, *, redis_patience_s: float = 0.0) -> Context:
        """The context of ``settings``, with the endpoints file it names."""
        return cls(settings, Registry.load(settings.endpoints_file), redis_patience_s=redis_patience_s)

    @cached_property
    def redis(self) -> Redis:
        return connect(self.settings, patience_s=self.redis_patience_s)

    @cached_property
    def store(self) -> JobStore:
        return JobStore(self.redis, self.settings)

    @cached_property
    def fleet(self) -> Fleet:
        return Fleet(self.redis, self.keys, self.settings.heartbeat_s)

    @cached_property
    def metrics(self) -> JobMetrics:
        return self.store.metrics

    @cached_property
    def apikeys(self) -> KeyStore:
        return KeyStore(self.redis, self.keys)

    @cached_property
    def idempotency(self) -> IdempotencyKeys:
        return IdempotencyKeys(self.redis, self.keys)

    @cached_property
    def limiter(self) -> Limiter:
        return Limiter(self.redis, self.keys)
