"""Rate and concurrency limits per endpoint and operation, counted in Redis.

Counting in Redis means every gateway process and host shares one budget. Rates use
the `limits` library's moving window (exact: the limit-th request in any 10 s is the
last one let through). A concurrency limit is a sorted set of in-flight request tokens,
each with its own lapse time, so a process that dies mid-request frees its slots after
``SLOT_LEASE_S`` at most; a normal request frees its slot on every exit path.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

from ..core.clock import now_ms
from ..core.errors import TooManyRequests
from ..core.limits import SLOT_LEASE_S, SLOT_RETRY_AFTER_S, OperationLimit
from .keys import Keys
from .scripts import Scripts


@dataclass(frozen=True)
class Slot:
    """A held concurrency slot; give it back with ``Limiter.release``."""

    key: str
    token: str


class Limiter:
    """Counts requests per endpoint and operation in Redis; refuses with TooManyRequests."""

    def __init__(self, redis: Redis, keys: Keys, lease_s: float = SLOT_LEASE_S):
        if redis is None:
            raise ValueError("Limiter needs a Redis connection")
        self.redis = redis
        self.keys = keys
        self.lease_ms = int(lease_s * 1000)
        # Shares the gateway's connection pool; registering the scripts sends nothing.
        storage = RedisStorage("redis://", connection_pool=redis.connection_pool, key_prefix=keys.rate_limits)
        self.window = MovingWindowRateLimiter(storage)
        self._scripts = Scripts(redis)

    def hit(self, endpoint: str, operation: str, limit: OperationLimit) -> None:
        """Count one request against the operation's rate, or refuse it."""
        if not limit.rate:
            return
        item = RateLimitItemPerSecond(limit.rate, limit.window_s, namespace="jobgate")
        if self.window.hit(item, endpoint, operation):
            return
        reset_at, _ = self.window.get_window_stats(item, endpoint, operation)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(
            f"rate limit: at most {limit.rate} {operation} requests per {limit.window_s} s on endpoint "
            f"{endpoint!r}; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def count_auth_failure(self, client: str, failures: int, window_s: int) -> None:
        """Count one failed authentication from ``client`` (an address); past ``failures`` in
        ``window_s`` seconds, refuse with TooManyRequests (a 429 with Retry-After)."""
        if not failures:
            return
        item = RateLimitItemPerSecond(failures, window_s, namespace="jobgate-auth")
        if self.window.hit(item, client):
            return
        reset_at, _ = self.window.get_window_stats(item, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(
            f"too many failed authentications from {client}: at most {failures} per {window_s} s; "
            f"retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def acquire(self, endpoint: str, operation: str, limit: OperationLimit) -> Slot | None:
        """Take one of the operation's concurrency slots (None when it has no such limit), or refuse."""
        if not limit.concurrent:
            return None
        slot = Slot(self.keys.in_flight(endpoint, operation), uuid.uuid4().hex)
        now = now_ms()
        if not self._scripts["acquire_slot"](keys=[slot.key], args=[now, self.lease_ms, limit.concurrent, slot.token]):
            raise TooManyRequests(
                f"concurrency limit: at most {limit.concurrent} {operation} requests at once on endpoint {endpoint!r}",
                headers={"Retry-After": str(SLOT_RETRY_AFTER_S)},
            )
        return slot

    def release(self, slot: Slot) -> None:
        """Give a slot back (idempotent)."""
        self.redis.zrem(slot.key, slot.token)

    def in_flight(self, endpoint: str, operation: str) -> int:
        """How many slots of the operation are held now."""
        return cast(int, self.redis.zcount(self.keys.in_flight(endpoint, operation), now_ms(), "+inf"))
