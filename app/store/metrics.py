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

from collections.abc import Iterable, Mapping

from redis import Redis

from ..core.clock import now_ms
from ..core.states import JobStatus
from .keys import Keys

DELAY_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
EXECUTION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
TERMINAL_STATUSES = tuple(s.value for s in JobStatus if s.is_terminal())
# Counters live this long after their last change (every write refreshes it). Prometheus
# reads a reset after a longer silence as it reads a restarted process: rate() is unharmed.
METRICS_TTL_S = 30 * 86_400
# The console's plots: one hash per endpoint and minute (Keys.timeline), kept a little longer
# than the 30 minutes they show.
TIMELINE_BUCKET_S = 60
TIMELINE_WINDOW_S = 30 * 60
TIMELINE_TTL_S = TIMELINE_WINDOW_S + 5 * TIMELINE_BUCKET_S
# Label of refusals for an endpoint id the registry does not know (keeps label values bounded).
UNKNOWN_ENDPOINT = "*"


def minute_of(at_ms: int) -> int:
    """The timeline bucket (minutes since the epoch) of a moment."""
    return at_ms // 1000 // TIMELINE_BUCKET_S


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

    def _incr(self, endpoint: str, counts: dict[str, float], minute: Mapping[str, int] | None = None) -> None:
        key = self.keys.metrics(endpoint)
        # MULTI/EXEC: a scrape never sees a histogram count without its sum.
        pipe = self.redis.pipeline(transaction=True)
        for name, amount in counts.items():
            if isinstance(amount, int):
                pipe.hincrby(key, name, amount)
            else:
                pipe.hincrbyfloat(key, name, amount)
        pipe.expire(key, METRICS_TTL_S)
        if minute:
            # The same observation in this minute's bucket, for the console's percentile plots.
            bucket = self.keys.timeline(endpoint, minute_of(now_ms()))
            for name, n in minute.items():
                pipe.hincrby(bucket, name, n)
            pipe.expire(bucket, TIMELINE_TTL_S)
        pipe.execute()

    def job_started(self, endpoint: str, delay_ms: int) -> None:
        """A job left the queue for a worker after ``delay_ms``."""
        seconds = max(0, delay_ms) / 1000
        field = f"delay:{_bucket(seconds, DELAY_BUCKETS_S)}"
        self._incr(endpoint, {field: 1, "delay:sum": seconds}, minute={field: 1})

    def job_finished(self, endpoint: str, status: str, execution_ms: int | None) -> None:
        """A job ended in ``status``; ``execution_ms`` when it ran."""
        counts: dict[str, float] = {f"jobs:{status}": 1}
        minute: dict[str, int] = {}
        if execution_ms is not None:
            seconds = max(0, execution_ms) / 1000
            field = f"execution:{_bucket(seconds, EXECUTION_BUCKETS_S)}"
            counts[field] = 1
            counts["execution:sum"] = seconds
            minute[field] = 1
        self._incr(endpoint, counts, minute=minute)

    def run_lost(self, endpoint: str) -> None:
        """A job's run was lost with its worker: the job was delivered again."""
        self._incr(endpoint, {"runs:lost": 1})

    def sample_depths(self, depths: Mapping[str, int], at_ms: int) -> None:
        """Record each endpoint's queue depth as this minute's sample (the reaper's pass calls it)."""
        pipe = self.redis.pipeline(transaction=False)
        for endpoint, depth in depths.items():
            bucket = self.keys.timeline(endpoint, minute_of(at_ms))
            pipe.hset(bucket, "depth", str(depth))
            pipe.expire(bucket, TIMELINE_TTL_S)
        pipe.execute()

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
