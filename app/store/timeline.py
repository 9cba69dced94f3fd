"""The console's plots: an endpoint's last minutes, one bucket a minute, read from Redis.

Each minute has two hashes: the job store's stats bucket (jobs that ended, by outcome: what
/health adds up) and the timeline bucket (``Keys.timeline``: delay and execution histograms,
written with the /metrics counters, and a queue depth sampled by the gateway's reaper pass).
Both expire on their own shortly after the window they serve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from redis import Redis

from .jobstore import STATS_BUCKET_S
from .keys import Keys
from .metrics import DELAY_BUCKETS_S, EXECUTION_BUCKETS_S, TIMELINE_BUCKET_S, minute_of

assert STATS_BUCKET_S == TIMELINE_BUCKET_S  # a stats bucket and a timeline bucket are the same minute
PERCENTILES = {"p50": 0.5, "p95": 0.95}


def quantile(q: float, bounds: Sequence[float], counts: Mapping[str, int]) -> float | None:
    """The ``q`` quantile (seconds) of a histogram given as counts per bucket bound, None when empty.

    Linear within the bucket it falls in, as Prometheus's ``histogram_quantile``; past the last
    bound the answer is that bound.
    """
    labels = [repr(float(b)) for b in bounds]
    total = sum(counts.get(label, 0) for label in labels) + counts.get("+Inf", 0)
    if total == 0:
        return None
    rank = q * total
    below, lower = 0, 0.0
    for label, upper in zip(labels, bounds, strict=True):
        n = counts.get(label, 0)
        if n and below + n >= rank:
            return lower + (upper - lower) * (rank - below) / n
        below += n
        lower = float(upper)
    return float(bounds[-1])


def _percentiles(fields: Mapping[str, str], prefix: str, bounds: Sequence[float]) -> dict[str, int] | None:
    counts = {name.partition(":")[2]: int(v) for name, v in fields.items() if name.startswith(prefix + ":")}
    found = {name: quantile(q, bounds, counts) for name, q in PERCENTILES.items()}
    if any(v is None for v in found.values()):
        return None
    return {name: round(cast(float, v) * 1000) for name, v in found.items()}


class Timeline:
    """Reads an endpoint's per-minute buckets."""

    def __init__(self, redis: Redis, keys: Keys):
        self.redis = redis
        self.keys = keys

    def read(self, endpoint: str, minutes: int, at_ms: int, depth_now: int) -> list[dict[str, Any]]:
        """The last ``minutes`` minutes, oldest first; the current minute's depth is ``depth_now``."""
        last = minute_of(at_ms)
        span = range(last - minutes + 1, last + 1)
        pipe = self.redis.pipeline(transaction=False)
        for minute in span:
            pipe.hgetall(self.keys.stats(endpoint, minute))
            pipe.hgetall(self.keys.timeline(endpoint, minute))
        raw = pipe.execute()
        buckets = []
        for minute, stats, sampled in zip(span, raw[::2], raw[1::2], strict=True):
            depth = depth_now if minute == last else sampled.get("depth")
            buckets.append(
                {
                    "start": minute * TIMELINE_BUCKET_S * 1000,
                    "queueDepth": None if depth is None else int(depth),
                    "completed": int(stats.get("completed", 0)),
                    "failed": int(stats.get("failed", 0)),
                    "timedOut": int(stats.get("timed_out", 0)),
                    "cancelled": int(stats.get("cancelled", 0)),
                    "delayMs": _percentiles(sampled, "delay", DELAY_BUCKETS_S),
                    "executionMs": _percentiles(sampled, "execution", EXECUTION_BUCKETS_S),
                }
            )
        return buckets
