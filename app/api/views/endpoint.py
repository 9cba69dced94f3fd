"""An endpoint's own operations: ``/health``, ``/purge-queue`` and ``/timeline`` (the console's plots)."""

from __future__ import annotations

from typing import Any

from ...core.clock import now_ms
from ...core.limits import Operation
from ...store.metrics import TIMELINE_BUCKET_S
from ...store.timeline import Timeline
from ..blueprint import Blueprint
from ..gateway import current_gateway
from ..schemas import HealthSchema, PurgeSchema, TimelineQuerySchema, TimelineSchema

blp = Blueprint("endpoint", __name__, url_prefix="/v2/<endpoint_id>", description="The endpoint's queue and workers")


@blp.route("/purge-queue", methods=["POST"])
@blp.operation(Operation.PURGE_QUEUE)
@blp.response(200, PurgeSchema)
def purge_queue(endpoint_id: str) -> dict[str, Any]:
    """Remove this endpoint's queued jobs; running jobs go on."""
    gw = current_gateway()
    removed = gw.dispatcher.purge(gw.endpoint(endpoint_id))
    return {"removed": removed, "status": "completed"}


@blp.route("/health", methods=["GET"])
@blp.operation(Operation.HEALTH)
@blp.response(200, HealthSchema)
def health(endpoint_id: str) -> dict[str, Any]:
    """Job counts and workers by state, from counters and heartbeats in Redis."""
    gw = current_gateway()
    endpoint = gw.endpoint(endpoint_id)
    return {"jobs": gw.store.counts(endpoint.id), "workers": gw.fleet.counts(endpoint.id, now_ms())}


@blp.route("/timeline", methods=["GET"])
@blp.operation(Operation.TIMELINE)
@blp.arguments(TimelineQuerySchema, location="query")
@blp.response(200, TimelineSchema)
def timeline(query: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    """The last minutes, one bucket a minute: queue depth, jobs ended by outcome, delay and execution p50/p95."""
    gw = current_gateway()
    endpoint = gw.endpoint(endpoint_id)
    buckets = Timeline(gw.redis, gw.context.keys).read(
        endpoint.id, query["minutes"], now_ms(), gw.store.queue_depth(endpoint.id)
    )
    return {"bucketSeconds": TIMELINE_BUCKET_S, "buckets": buckets}
