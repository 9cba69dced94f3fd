"""Prometheus metrics of the fleet, kept in Redis so that every gateway process answers alike.

Why not prometheus-client's multiprocess mode for the gateway: a job's outcome and timings
are observed by workers, often on other hosts, and the gateway runs several gunicorn
processes (and possibly several hosts). So counters and histogram buckets are Redis hash
fields, incremented where the event happens (the job store's transitions, the rate limiter),
and gauges (queue depth, jobs in progress, workers by state) are read from the job store and
the heartbeats when Prometheus scrapes. Any gateway process on any host renders the same
numbers, with no per-process files to share or clean up. Workers also serve their own
per-node metrics (``workers/telemetry.py``).

prometheus-client is imported only where metrics are rendered: it picks its storage at
import, and a worker must choose that storage before (the job store imports this module).
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Iterable, Iterator

from flask import Blueprint, Response, current_app
from redis import Redis
from redis.exceptions import RedisError

from .keys import Keys

if TYPE_CHECKING:
    from prometheus_client.core import HistogramMetricFamily, Metric

    from .gateway import Gateway

log = logging.getLogger(__name__)

DELAY_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
EXECUTION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
                       7200, 21600, 86400)
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")
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


def rate_limited(endpoint: str, operation: str) -> None:
    """Count one request refused by a rate limit; call it while answering that request.

    ``endpoint`` is the id from the URL (unknown ids are counted as ``*``), ``operation``
    the limited operation (``run``, ``runsync``, ``status``, ...). Never raises.
    """
    gateway = current_app.extensions["jobgate"]
    eid = endpoint if gateway.registry.get(endpoint) is not None else UNKNOWN_ENDPOINT
    try:
        gateway.metrics.rate_limited(eid, operation)
    except RedisError as exc:  # a refusal must stay a 429, not become a 503
        log.warning("cannot count a rate-limit refusal: %s", exc)


def _histogram(name: str, doc: str, bounds: Iterable[float],
               raw: dict[str, dict[str, str]], prefix: str) -> "HistogramMetricFamily":
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(name, doc, labels=["endpoint"])
    for eid, fields in raw.items():
        cumulative, buckets = 0.0, []
        for le in [repr(float(b)) for b in bounds] + ["+Inf"]:
            cumulative += int(fields.get(f"{prefix}:{le}", 0))
            buckets.append((le, cumulative))
        family.add_metric([eid], buckets, float(fields.get(f"{prefix}:sum", 0)))
    return family


class FleetCollector:
    """Renders the fleet's metrics from Redis at scrape time."""

    def __init__(self, gateway: "Gateway"):
        self.gateway = gateway

    def _depths(self, ids: list[str], at_ms: int) -> list[tuple[int, int]]:
        keys = self.gateway.store.keys
        pipe = self.gateway.redis.pipeline(transaction=False)
        for eid in ids:
            # Scored by deadline / must-have-ended time: expired entries no longer count.
            pipe.zcount(keys.queued(eid), at_ms, "+inf")
            pipe.zcount(keys.running(eid), at_ms, "+inf")
        counts = pipe.execute()
        return list(zip(counts[::2], counts[1::2]))

    def collect(self) -> Iterator["Metric"]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        gw = self.gateway
        ids = gw.registry.ids()
        at = int(time.time() * 1000)
        depth = GaugeMetricFamily("jobgate_queue_depth", "Jobs waiting in the endpoint's queue",
                                  labels=["endpoint"])
        running = GaugeMetricFamily("jobgate_jobs_in_progress", "Jobs taken by a worker and not ended",
                                    labels=["endpoint"])
        workers = GaugeMetricFamily("jobgate_workers", "Live workers (pool processes) by state",
                                    labels=["endpoint", "state"])
        for eid, (queued, in_progress) in zip(ids, self._depths(ids, at)):
            depth.add_metric([eid], queued)
            running.add_metric([eid], in_progress)
            for state, n in gw.fleet.counts(eid, at).items():
                workers.add_metric([eid, state], n)
        yield from (depth, running, workers)

        raw = gw.metrics.read(ids + [UNKNOWN_ENDPOINT])
        jobs = CounterMetricFamily("jobgate_jobs", "Jobs that ended, by terminal state",
                                   labels=["endpoint", "status"])
        refused = CounterMetricFamily("jobgate_rate_limited", "Requests refused by a rate limit",
                                      labels=["endpoint", "operation"])
        for eid, fields in raw.items():
            if eid in ids:
                for status in TERMINAL_STATUSES:
                    jobs.add_metric([eid, status], int(fields.get(f"jobs:{status}", 0)))
            for name, value in sorted(fields.items()):
                if name.startswith("ratelimited:"):
                    refused.add_metric([eid, name.partition(":")[2]], int(value))
        known = {eid: raw[eid] for eid in ids}
        yield jobs
        yield refused
        yield _histogram("jobgate_job_delay_seconds", "Time jobs waited in the queue",
                         DELAY_BUCKETS_S, known, "delay")
        yield _histogram("jobgate_job_execution_seconds", "Time jobs ran on a worker",
                         EXECUTION_BUCKETS_S, known, "execution")


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    """The fleet's metrics in Prometheus's text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(current_app.extensions["jobgate"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
