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
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

from . import scripts
from .errors import TooManyRequests
from .keys import Keys

MIB = 1024 * 1024
WINDOW_S = 10
# Bodies of operations that read no body (status, cancel, ...) are refused past this.
DEFAULT_MAX_BODY_BYTES = 1 * MIB
# Longer than any request may last (runsync waits up to 300 s; gunicorn's timeout is 330 s).
SLOT_LEASE_S = 360
# How long a caller refused for a full concurrency slot set should wait before trying again.
SLOT_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class OperationLimit:
    """The limits of one operation on one endpoint; 0 means no limit."""

    rate: int = 0
    window_s: int = WINDOW_S
    concurrent: int = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def _op(rate: int, concurrent: int = 0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> OperationLimit:
    return OperationLimit(rate=rate, concurrent=concurrent, max_body_bytes=max_body_bytes)


# The contract's table (section 5), keyed by view name. retry and health are not in it:
# retry gets cancel's limits, health only a rate.
DEFAULT_LIMITS: Mapping[str, OperationLimit] = {
    "run": _op(1000, 200, 10 * MIB),
    "runsync": _op(2000, 400, 20 * MIB),
    "status": _op(2000, 400),
    "status_sync": _op(2000, 400),
    "stream": _op(2000, 400),
    "cancel": _op(100, 20),
    "retry": _op(100, 20),
    "purge_queue": _op(2),
    "health": _op(2000),
    "openai": _op(2000, 400, 20 * MIB),
    "requests": _op(10, 2),
}
# An operation missing from the table (a view added later) still gets the body cap.
UNLISTED = OperationLimit()


def operation_of(view_name: str) -> str:
    """The operation a view serves: its function name (every ``openai*`` view is ``openai``)."""
    if view_name.startswith("openai"):
        return "openai"
    return "requests" if view_name == "list_requests" else view_name


def parse_limits(table: Any, where: str) -> dict[str, OperationLimit]:
    """The defaults, with the overrides of an endpoint's ``limits`` table applied.

    ``table`` maps an operation (``run``, ``purge-queue``...) to some of ``rate``,
    ``window_s``, ``concurrent`` and ``max_body_bytes``; omitted fields keep their default.
    Raises ValueError naming the bad entry.
    """
    limits = dict(DEFAULT_LIMITS)
    if table is None:
        return limits
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must be a table of operations")
    names = {f.name for f in fields(OperationLimit)}
    for raw_op, values in table.items():
        op = raw_op.replace("-", "_")
        if op not in DEFAULT_LIMITS:
            raise ValueError(f"{where}: unknown operation {raw_op!r}; known: "
                             f"{', '.join(o.replace('_', '-') for o in DEFAULT_LIMITS)}")
        if not isinstance(values, Mapping):
            raise ValueError(f"{where}.{raw_op} must be a table such as {{ rate = 100, concurrent = 10 }}")
        for name, value in values.items():
            if name not in names:
                raise ValueError(f"{where}.{raw_op}: unknown field {name!r}; known: {', '.join(sorted(names))}")
            least = 1 if name in ("window_s", "max_body_bytes") else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{where}.{raw_op}.{name} must be an integer >= {least}")
        limits[op] = replace(limits[op], **values)
    return limits


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
        self._acquire = redis.register_script(scripts.ACQUIRE_SLOT)

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
            f"{endpoint!r}; retry in {retry_after} s", headers={"Retry-After": str(retry_after)})

    def acquire(self, endpoint: str, operation: str, limit: OperationLimit) -> Slot | None:
        """Take one of the operation's concurrency slots (None when it has no such limit), or refuse."""
        if not limit.concurrent:
            return None
        slot = Slot(self.keys.in_flight(endpoint, operation), uuid.uuid4().hex)
        now = int(time.time() * 1000)
        if not self._acquire(keys=[slot.key], args=[now, self.lease_ms, limit.concurrent, slot.token]):
            raise TooManyRequests(
                f"concurrency limit: at most {limit.concurrent} {operation} requests at once on endpoint "
                f"{endpoint!r}", headers={"Retry-After": str(SLOT_RETRY_AFTER_S)})
        return slot

    def release(self, slot: Slot) -> None:
        """Give a slot back (idempotent)."""
        self.redis.zrem(slot.key, slot.token)

    def in_flight(self, endpoint: str, operation: str) -> int:
        """How many slots of the operation are held now."""
        return int(self.redis.zcount(self.keys.in_flight(endpoint, operation), int(time.time() * 1000), "+inf"))
