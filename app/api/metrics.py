"""``GET /metrics``: the fleet's metrics in Prometheus's format, rendered from Redis at scrape time.

Counters and histogram buckets are kept in Redis where events happen (``app/store/metrics.py``);
gauges (queue depth, jobs in progress, workers by state) are read from the job store's indexes
and the heartbeats. Any gateway process on any host renders the same numbers.

prometheus-client is imported only where metrics are rendered: it picks its storage at
import, and a worker must choose that storage first (``workers/telemetry.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from flask import Blueprint, Response
from redis.exceptions import RedisError

from ..core.clock import now_ms
from ..core.limits import Operation
from ..store.metrics import DELAY_BUCKETS_S, EXECUTION_BUCKETS_S, TERMINAL_STATUSES, UNKNOWN_ENDPOINT
from .gateway import Gateway, current_gateway

if TYPE_CHECKING:
    from prometheus_client.core import HistogramMetricFamily, Metric

log = logging.getLogger(__name__)


def rate_limited(endpoint: str, operation: Operation) -> None:
    """Count one request refused by a rate limit; call it while answering that request.

    ``endpoint`` is the id from the URL (unknown ids are counted as ``*``), ``operation``
    the limited operation (``run``, ``runsync``, ``status``, ...). Never raises.
    """
    gateway = current_gateway()
    eid = endpoint if gateway.registry.get(endpoint) is not None else UNKNOWN_ENDPOINT
    try:
        gateway.metrics.rate_limited(eid, operation)
    except RedisError as exc:  # a refusal must stay a 429, not become a 503
        log.warning("cannot count a rate-limit refusal: %s", exc)


def _histogram(
    name: str, doc: str, bounds: Iterable[float], raw: dict[str, dict[str, str]], prefix: str
) -> HistogramMetricFamily:
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

    def __init__(self, gateway: Gateway):
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

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        gw = self.gateway
        ids = gw.registry.ids()
        at = now_ms()
        depth = GaugeMetricFamily("jobgate_queue_depth", "Jobs waiting in the endpoint's queue", labels=["endpoint"])
        running = GaugeMetricFamily(
            "jobgate_jobs_in_progress", "Jobs taken by a worker and not ended", labels=["endpoint"]
        )
        workers = GaugeMetricFamily(
            "jobgate_workers", "Live workers (pool processes) by state", labels=["endpoint", "state"]
        )
        for eid, (queued, in_progress) in zip(ids, self._depths(ids, at)):
            depth.add_metric([eid], queued)
            running.add_metric([eid], in_progress)
            for state, n in gw.fleet.counts(eid, at).items():
                workers.add_metric([eid, state], n)
        yield from (depth, running, workers)

        raw = gw.metrics.read(ids + [UNKNOWN_ENDPOINT])
        jobs = CounterMetricFamily("jobgate_jobs", "Jobs that ended, by terminal state", labels=["endpoint", "status"])
        refused = CounterMetricFamily(
            "jobgate_rate_limited", "Requests refused by a rate limit", labels=["endpoint", "operation"]
        )
        lost = CounterMetricFamily(
            "jobgate_job_runs_lost",
            "Job runs lost with their worker (a killed pool process, a lost host): each job was delivered again",
            labels=["endpoint"],
        )
        for eid, fields in raw.items():
            if eid in ids:
                for status in TERMINAL_STATUSES:
                    jobs.add_metric([eid, status], int(fields.get(f"jobs:{status}", 0)))
                lost.add_metric([eid], int(fields.get("runs:lost", 0)))
            for name, value in sorted(fields.items()):
                if name.startswith("ratelimited:"):
                    refused.add_metric([eid, name.partition(":")[2]], int(value))
        known = {eid: raw[eid] for eid in ids}
        yield jobs
        yield lost
        yield refused
        yield _histogram("jobgate_job_delay_seconds", "Time jobs waited in the queue", DELAY_BUCKETS_S, known, "delay")
        yield _histogram(
            "jobgate_job_execution_seconds", "Time jobs ran on a worker", EXECUTION_BUCKETS_S, known, "execution"
        )


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    """The fleet's metrics in Prometheus's text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(current_gateway()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
