"""Fleet metrics kept in Redis, so that every gateway process renders the same numbers.

Why not prometheus-client's multiprocess mode for the gateway: a job's outcome and timings
are observed by workers, often on other hosts, and the gateway runs several gunicorn
processes (and possibly several hosts). So counters and histogram buckets are Redis hash
fields, incremented where the event happens (the job store's transitions, the rate limiter),
and gauges (queue depth, jobs in progress, workers by state) are read from the job store and
the heartbeats when Prometheus scrapes (``app/api/metrics.py``). Workers also serve their own
per-node metrics (``workers/telemetry.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from redis import Redis

from ..core.states import JobStatus
from .keys import Keys

DELAY_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
EXECUTION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
TERMINAL_STATUSES = tuple(s.value for s in JobStatus if s.is_terminal())
# Counters live this long after their last change (every write refreshes it). Prometheus
# reads a reset after a longer silence as it reads a restarted process: rate() is unharmed.
METRICS_TTL_S = 30 * 86_400
# Label of refusals for an endpoint id the registry does not know (keeps label values bounded).
UNKNOWN_ENDPOINT = "*"


def _bucket(value_s: float, bounds: Iterable[float]) -> str:
    for bound in bounds:
        if value_s <= bound:
            return repr(float(bound))
    return "+Inf"


class JobMetrics:
    """An endpoint's counters and histogram buckets, as fields of one Redis hash."""

    def __init__(self, redis: Redis, keys: Keys):
        self.redis = redis
        self.keys = keys

    def _incr(self, endpoint: str, counts: dict[str, float]) -> None:
        key = self.keys.metrics(endpoint)
        # MULTI/EXEC: a scrape never sees a histogram count without its sum.
        pipe = self.redis.pipeline(transaction=True)
        for name, amount in counts.items():
            if isinstance(amount, int):
                pipe.hincrby(key, name, amount)
            else:
                pipe.hincrbyfloat(key, name, amount)
        pipe.expire(key, METRICS_TTL_S)
        pipe.execute()

    def job_started(self, endpoint: str, delay_ms: int) -> None:
        """A job left the queue for a worker after ``delay_ms``."""
        seconds = max(0, delay_ms) / 1000
        self._incr(endpoint, {f"delay:{_bucket(seconds, DELAY_BUCKETS_S)}": 1, "delay:sum": seconds})

    def job_finished(self, endpoint: str, status: str, execution_ms: int | None) -> None:
        """A job ended in ``status``; ``execution_ms`` when it ran."""
        counts: dict[str, float] = {f"jobs:{status}": 1}
        if execution_ms is not None:
            seconds = max(0, execution_ms) / 1000
            counts[f"execution:{_bucket(seconds, EXECUTION_BUCKETS_S)}"] = 1
            counts["execution:sum"] = seconds
        self._incr(endpoint, counts)

    def rate_limited(self, endpoint: str, operation: str) -> None:
        """A request for ``operation`` on ``endpoint`` was refused by a rate limit."""
        self._incr(endpoint, {f"ratelimited:{operation}": 1})

    def read(self, endpoints: Iterable[str]) -> dict[str, dict[str, str]]:
        """The raw hash of each endpoint."""
        ids = list(endpoints)
        pipe = self.redis.pipeline(transaction=False)
        for eid in ids:
            pipe.hgetall(self.keys.metrics(eid))
        return dict(zip(ids, pipe.execute()))
